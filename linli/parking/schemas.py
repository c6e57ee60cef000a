"""In/Out schemas of /api/v1/parking."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema


class RuleIn(Schema):
    region_id: int
    name: str = Field(max_length=100)
    free_minutes: int = Field(15, ge=0, le=1440)
    first_minutes: int = Field(60, ge=1, le=1440)
    first_fen: int = Field(500, ge=0, le=1_000_000)
    step_minutes: int = Field(60, ge=1, le=1440)
    step_fen: int = Field(200, ge=0, le=1_000_000)
    daily_cap_fen: int | None = Field(None, ge=0, le=10_000_000)
    night_start_minute: int | None = Field(None, ge=0, le=1439)
    night_end_minute: int | None = Field(None, ge=0, le=1439)
    night_fen: int = Field(0, ge=0, le=1_000_000)
    pass_holders_free: bool = True
    visitor_paid_by_host: bool = False


class RuleOut(Schema):
    id: int
    region_id: int
    name: str
    free_minutes: int
    first_minutes: int
    first_fen: int
    step_minutes: int
    step_fen: int
    daily_cap_fen: int | None
    night_start_minute: int | None
    night_end_minute: int | None
    night_fen: int
    pass_holders_free: bool
    visitor_paid_by_host: bool


class LotIn(Schema):
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)
    capacity: int = Field(ge=1, le=100_000)
    estate_id: int | None = None
    region_id: int | None = None
    rule_id: int | None = None
    overuse_policy: str = "visitor"
    exit_grace_minutes: int = Field(15, ge=0, le=240)


class LotPatch(Schema):
    name: str | None = Field(None, max_length=100)
    capacity: int | None = Field(None, ge=1, le=100_000)
    rule_id: int | None = None
    overuse_policy: str | None = None
    exit_grace_minutes: int | None = Field(None, ge=0, le=240)
    is_active: bool | None = None


class LotOut(Schema):
    id: int
    code: str
    name: str
    estate_id: int | None
    region_id: int
    capacity: int
    rule_id: int | None
    overuse_policy: str
    exit_grace_minutes: int
    token_prefix: str
    is_active: bool


class LotCreatedOut(LotOut):
    token: str


class ZoneIn(Schema):
    code: str = Field(max_length=20)
    name: str = Field(max_length=60)
    capacity: int = Field(0, ge=0, le=100_000)


class ZoneOut(Schema):
    id: int
    lot_id: int
    code: str
    name: str
    capacity: int


class SpaceIn(Schema):
    number: str = Field(max_length=20)
    kind: str = "public"
    zone_id: int | None = None
    owner_id: int | None = None


class SpaceOut(Schema):
    id: int
    lot_id: int
    zone_id: int | None
    number: str
    kind: str
    owner_id: int | None


class VehicleIn(Schema):
    plate: str = Field(max_length=20)
    owner_id: int | None = None
    energy: str | None = None
    note: str = Field("", max_length=100)


class VehicleOut(Schema):
    id: int
    plate: str
    owner_id: int
    energy: str
    note: str


class PassIn(Schema):
    lot_id: int
    person_id: int
    kind: str
    plates: list[str] = Field(min_length=1, max_length=5)
    valid_from: dt.datetime
    valid_until: dt.datetime
    space_id: int | None = None
    max_inside: int = Field(1, ge=1, le=10)


class PassOut(Schema):
    id: int
    lot_id: int
    person_id: int
    kind: str
    plates: list[str]
    space_id: int | None
    valid_from: dt.datetime
    valid_until: dt.datetime
    max_inside: int
    status: str


class FlagIn(Schema):
    region_id: int
    plate: str = Field(max_length=20)
    kind: str
    reason: str = Field(max_length=200)


class FlagOut(Schema):
    id: int
    region_id: int
    plate: str
    kind: str
    reason: str
    is_active: bool
    created_at: dt.datetime


class AlarmOut(Schema):
    id: int
    lot_id: int
    kind: str
    plate: str
    flag_id: int | None
    parking_pass_id: int | None
    session_id: int | None
    allowed: bool
    message: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None


class SessionOut(Schema):
    id: int
    lot_id: int
    plate: str
    kind: str
    entry_at: dt.datetime
    exit_at: dt.datetime | None
    zone_id: int | None
    space_id: int | None
    parking_pass_id: int | None
    amount_fen: int
    paid_fen: int
    paid_at: dt.datetime | None
    status: str
    entry_reason: str


class PlateIn(Schema):
    plate: str = Field(min_length=1, max_length=20)
    at: dt.datetime | None = None


class LocateIn(Schema):
    plate: str = Field(min_length=1, max_length=20)
    zone_code: str = Field(max_length=20)
    space_number: str = Field("", max_length=20)


class DecisionOut(Schema):
    allowed: bool
    reason: str
    amount_due_fen: int
    session_id: int | None


class QuoteOut(Schema):
    session_id: int
    plate: str
    entry_at: dt.datetime
    at: dt.datetime
    total_fen: int
    paid_fen: int
    due_fen: int
    pay_before: dt.datetime


class PayIn(Schema):
    amount_fen: int = Field(ge=1, le=100_000_000)
    method: str = Field("online", max_length=20)


class HourStatOut(Schema):
    hour: dt.datetime
    entries: int
    exits: int
    occupied: int
    free: int


class ZoneFreeOut(Schema):
    zone_id: int
    code: str
    name: str
    capacity: int
    occupied: int
    free: int
    fixed_total: int
    fixed_occupied: int


class GuidanceOut(Schema):
    lot_id: int
    capacity: int
    free: int
    zones: list[ZoneFreeOut]


class CarLocationOut(Schema):
    plate: str
    lot_id: int
    lot_name: str
    zone_code: str | None
    zone_name: str | None
    space_number: str | None
    entry_at: dt.datetime


class EventOut(Schema):
    id: int
    lot_id: int
    plate: str
    direction: str
    allowed: bool
    reason: str
    at: dt.datetime
    session_id: int | None
    amount_due_fen: int


class EventHourOut(Schema):
    hour: dt.datetime
    entries: int
    entries_denied: int
    exits: int
    exits_denied: int


class RulePatch(Schema):
    name: str | None = Field(None, max_length=100)
    free_minutes: int | None = Field(None, ge=0, le=1440)
    first_minutes: int | None = Field(None, ge=1, le=1440)
    first_fen: int | None = Field(None, ge=0, le=1_000_000)
    step_minutes: int | None = Field(None, ge=1, le=1440)
    step_fen: int | None = Field(None, ge=0, le=1_000_000)
    daily_cap_fen: int | None = Field(None, ge=0, le=10_000_000)
    night_start_minute: int | None = Field(None, ge=0, le=1439)
    night_end_minute: int | None = Field(None, ge=0, le=1439)
    night_fen: int | None = Field(None, ge=0, le=1_000_000)
    pass_holders_free: bool | None = None
    visitor_paid_by_host: bool | None = None


class DisplayIn(Schema):
    name: str = Field(max_length=60)


class DisplayOut(Schema):
    id: int
    lot_id: int
    name: str
    token_prefix: str
    revoked_at: dt.datetime | None
    created_at: dt.datetime


class DisplayCreatedOut(DisplayOut):
    token: str
    url: str


class CloseIn(Schema):
    note: str = Field(max_length=200)
