"""API schemas of access control: separate In and Out; personal data only masked, secrets never."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from linli.core.pii import mask_name

from .models import Audience, CredentialKind, GateKind, GroupLevel, Result, WatchKind, WatchPolicy


class GroupIn(Schema):
    code: str = Field(..., min_length=1, max_length=40)
    name: str = Field(..., min_length=1, max_length=100)
    level: GroupLevel
    estate_id: int
    building_id: int | None = None
    unit_id: int | None = None
    is_active: bool = True


class GroupPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    is_active: bool | None = None


class GroupOut(Schema):
    id: int
    code: str
    name: str
    level: str
    estate_id: int
    building_id: int | None
    unit_id: int | None
    region_id: int
    is_active: bool


class GateIn(Schema):
    code: str = Field(..., min_length=1, max_length=40)
    name: str = Field(..., min_length=1, max_length=100)
    group_id: int
    kind: GateKind = GateKind.DOOR
    device_serial: str = Field("", max_length=64)


class GatePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    kind: GateKind | None = None
    device_serial: str | None = Field(None, max_length=64)
    is_active: bool | None = None
    group_id: int | None = None


class GateOut(Schema):
    id: int
    code: str
    name: str
    group_id: int
    kind: str
    region_id: int
    device_serial: str
    token_prefix: str
    allowlist_version: int
    allowlist_fetched_at: dt.datetime | None
    is_active: bool


class GateCreatedOut(GateOut):
    token: str = Field(..., description="设备令牌，仅显示一次")


class TokenOut(Schema):
    token: str


class RuleIn(Schema):
    group_id: int
    audience: Audience
    role_id: int | None = None
    weekdays: int = Field(0b1111111, ge=1, le=255, description="bit0=周一 … bit6=周日, bit7=节假日")
    start_minute: int = Field(0, ge=0, le=1439)
    end_minute: int = Field(1440, ge=1, le=1440)
    name: str = Field("", max_length=100)


class RuleOut(Schema):
    id: int
    group_id: int
    audience: str
    role_id: int | None
    weekdays: int
    start_minute: int
    end_minute: int
    name: str


class HolidayIn(Schema):
    region_id: int
    date: dt.date
    name: str = Field(..., min_length=1, max_length=50)


class HolidayOut(Schema):
    id: int
    region_id: int
    date: dt.date
    name: str


class BlockIn(Schema):
    person_id: int | None = None
    group_id: int | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    reason: str = Field(..., min_length=1, max_length=200)


class BlockOut(Schema):
    id: int
    region_id: int
    person_id: int | None
    group_id: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    lifted_at: dt.datetime | None
    reason: str


class CredentialIn(Schema):
    person_id: int
    kind: CredentialKind
    house_id: int | None = None
    value: str = Field("", max_length=64, description="卡号或密码（不存储明文）")
    template_ref: str = Field("", max_length=128, description="识别引擎中的模板引用编号（不上传模板本身）")
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None


class CredentialOut(Schema):
    id: int
    person_id: int
    person_name: str
    house_id: int | None
    kind: str
    number_masked: str
    status: str
    status_reason: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_person_name(obj: Any) -> str:
        return mask_name(obj.person.name)

    @staticmethod
    def resolve_number_masked(obj: Any) -> str:
        return f"****{obj.secret_tail}" if obj.secret_tail else ""


class CredentialIssuedOut(CredentialOut):
    other_ways: list[str] = Field(..., description="本人已有的非生物特征凭证")
    offer_card_or_qr: bool = Field(..., description="人脸/指纹不能是唯一通行方式：须同时提供卡或二维码")


class ReasonIn(Schema):
    reason: str = Field("", max_length=200)


class ExpiryIn(Schema):
    valid_until: dt.datetime | None = Field(None, description="新的失效时间；null 表示长期有效")


class QrIn(Schema):
    person_id: int | None = None
    house_id: int | None = None
    ttl: int = Field(60, ge=10, le=600)


class QrOut(Schema):
    token: str
    expires_at: dt.datetime
    credential_id: int | None = None


class DecideIn(Schema):
    credential_kind: CredentialKind
    credential_value: str = Field(..., min_length=1, max_length=600)
    at: dt.datetime | None = None
    event_uid: str = Field("", max_length=64)


class DecideOut(Schema):
    allowed: bool
    reason: str
    person_id: int | None
    event_uid: str


class UploadEventIn(Schema):
    event_uid: str = Field(..., min_length=8, max_length=64)
    credential_kind: CredentialKind
    credential_id: int | None = None
    person_id: int | None = None
    result: Result
    reason: str = Field("offline", max_length=32)
    at: dt.datetime


class UploadIn(Schema):
    events: list[UploadEventIn] = Field(..., max_length=1000)


class UploadOut(Schema):
    received: int
    stored: int


class AllowlistOut(Schema):
    document: dict[str, Any]
    signature: str
    algorithm: str
    public_key: str


class SigningKeyOut(Schema):
    algorithm: str
    public_key: str


class InviteIn(Schema):
    house_id: int
    visitor_name: str = Field(..., min_length=1, max_length=60)
    visitor_phone: str = Field("", max_length=20)
    valid_from: dt.datetime
    valid_until: dt.datetime
    plate: str = Field("", max_length=10)


class GateVisitorIn(Schema):
    gate_id: int
    house_id: int
    visitor_name: str = Field(..., min_length=1, max_length=60)
    id_type: str = "resident_id"
    id_number: str = Field(..., min_length=4, max_length=30)
    visitor_phone: str = Field("", max_length=20)
    plate: str = Field("", max_length=10)
    hours: int = Field(4, ge=1, le=24)


class ConfirmIn(Schema):
    accept: bool = True


class InviteOut(Schema):
    id: int
    house_id: int
    host_person_id: int
    visitor_name: str
    visitor_phone: str
    visitor_id_masked: str
    plate: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    status: str
    origin: str
    watch_hit: bool
    created_at: dt.datetime

    @staticmethod
    def resolve_visitor_name(obj: Any) -> str:
        return mask_name(obj.visitor_name)

    @staticmethod
    def resolve_visitor_phone(obj: Any) -> str:
        return f"*******{obj.visitor_phone_tail}" if obj.visitor_phone_tail else ""

    @staticmethod
    def resolve_visitor_id_masked(obj: Any) -> str:
        return f"**************{obj.visitor_id_tail}" if obj.visitor_id_tail else ""

    @staticmethod
    def resolve_watch_hit(obj: Any) -> bool:
        return obj.watch_hit_id is not None


class PassOut(Schema):
    token: str
    expires_at: dt.datetime


class WatchIn(Schema):
    region_id: int
    kind: WatchKind
    id_number: str = Field("", max_length=30)
    plate: str = Field("", max_length=10)
    reason: str = Field(..., min_length=1, max_length=200)
    policy: WatchPolicy = WatchPolicy.DENY
    source: str = Field("", max_length=60)


class WatchOut(Schema):
    id: int
    region_id: int
    kind: str
    id_number_masked: str
    plate: str
    reason: str
    policy: str
    source: str
    is_active: bool
    created_at: dt.datetime

    @staticmethod
    def resolve_id_number_masked(obj: Any) -> str:
        return f"**************{obj.id_number_tail}" if obj.id_number_tail else ""


class AlarmOut(Schema):
    id: int
    region_id: int
    kind: str
    gate_id: int | None
    visitor_invite_id: int | None
    watch_entry_id: int | None
    policy: str
    message: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None


class EventOut(Schema):
    id: int
    event_uid: str
    gate_id: int
    gate_code: str
    credential_kind: str
    person_id: int | None
    result: str
    reason: str
    at: dt.datetime
    source: str

    @staticmethod
    def resolve_gate_code(obj: Any) -> str:
        return obj.gate.code


class StatOut(Schema):
    gate_id: int
    gate_code: str
    hour: dt.datetime
    allowed: int
    denied: int


class LastSeenOut(Schema):
    person_id: int
    last_seen: dt.datetime | None
