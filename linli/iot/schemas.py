"""In/Out schemas of the iot API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema


class DeviceTypeIn(Schema):
    code: str = Field(..., max_length=50, pattern=r"^[a-z0-9_-]+$")
    name: str = Field(..., max_length=80)
    category: str
    vendor: str = ""
    description: str = ""
    telemetry_keys: list[dict[str, Any]] = []


class DeviceTypePatch(Schema):
    name: str | None = None
    category: str | None = None
    vendor: str | None = None
    description: str | None = None
    telemetry_keys: list[dict[str, Any]] | None = None
    retention_raw_days: int | None = Field(None, ge=1, le=36500)
    retention_5m_days: int | None = Field(None, ge=1, le=36500)
    retention_1h_days: int | None = Field(None, ge=1, le=36500)
    retention_1d_days: int | None = Field(None, ge=1, le=36500, description="empty = forever")


class DeviceTypeOut(Schema):
    id: int
    code: str
    name: str
    category: str
    vendor: str
    description: str
    telemetry_keys: list[dict[str, Any]]
    retention_raw_days: int
    retention_5m_days: int
    retention_1h_days: int
    retention_1d_days: int | None


class DeviceIn(Schema):
    serial: str = Field(..., max_length=64)
    device_type: str = Field(..., description="device type code")
    region_id: int | None = None
    building_id: int | None = None
    house_id: int | None = None
    name: str = ""
    vendor: str = ""
    model: str = ""
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    location_note: str = ""
    owner_org_id: int | None = None
    gateway_id: int | None = None
    status: Literal["active", "inactive", "maintenance"] = "active"


class DevicePatch(Schema):
    name: str | None = None
    vendor: str | None = None
    model: str | None = None
    region_id: int | None = None
    building_id: int | None = None
    house_id: int | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    location_note: str | None = None
    owner_org_id: int | None = None
    gateway_id: int | None = None
    status: Literal["active", "inactive", "maintenance"] | None = None


class DeviceOut(Schema):
    id: int
    serial: str
    name: str
    device_type: str = Field(..., alias="device_type.code")
    device_type_name: str = Field(..., alias="device_type.name")
    category: str = Field(..., alias="device_type.category")
    vendor: str
    model: str
    region_id: int
    region_name: str = Field(..., alias="region.name")
    building_id: int | None
    house_id: int | None
    lat: float | None
    lng: float | None
    location_note: str
    owner_org_id: int | None
    gateway_id: int | None
    status: str
    last_seen_at: dt.datetime | None
    mqtt_username: str
    token_prefix: str
    attributes: dict[str, Any]


class CredentialsOut(Schema):
    access_token: str
    mqtt_username: str
    mqtt_password: str
    note: str = "只显示一次，请妥善保存 / shown once"


class ProvisionedOut(Schema):
    device: DeviceOut
    credentials: CredentialsOut


class ImportRowOut(Schema):
    row: int
    device_id: int
    serial: str
    credentials: CredentialsOut


class ImportErrorOut(Schema):
    row: int
    column: str
    code: str
    message: str


class ImportOut(Schema):
    created: list[ImportRowOut]
    errors: list[ImportErrorOut]


class IngestStatOut(Schema):
    day: dt.date
    channel: str
    messages: int
    stored: int
    duplicates: int
    rejected: int


class ReadingOut(Schema):
    key: str
    ts: dt.datetime
    value: float | None
    value_text: str | None


class RuleIn(Schema):
    code: str = Field(..., max_length=50, pattern=r"^[a-z0-9_-]+$")
    name: str = Field(..., max_length=100)
    device_type: str | None = None
    device_id: int | None = None
    kind: Literal["condition", "offline"] = "condition"
    conditions: list[dict[str, Any]] = []
    match: Literal["all", "any"] = "all"
    duration_s: int = Field(0, ge=0, le=7 * 86400)
    offline_minutes: int | None = Field(None, ge=1)
    severity: Literal["critical", "major", "minor", "warning"] = "major"
    message: str = ""
    create_case: bool = False
    enabled: bool = True


class RulePatch(Schema):
    name: str | None = None
    conditions: list[dict[str, Any]] | None = None
    match: Literal["all", "any"] | None = None
    duration_s: int | None = Field(None, ge=0, le=7 * 86400)
    offline_minutes: int | None = Field(None, ge=1)
    severity: Literal["critical", "major", "minor", "warning"] | None = None
    message: str | None = None
    create_case: bool | None = None
    enabled: bool | None = None


class RuleOut(Schema):
    id: int
    code: str
    name: str
    device_type: str | None = Field(None, alias="device_type.code")
    device_id: int | None
    kind: str
    conditions: list[dict[str, Any]]
    match: str
    duration_s: int
    offline_minutes: int | None
    severity: str
    message: str
    create_case: bool
    enabled: bool


class AlarmOut(Schema):
    id: int
    device_id: int
    device_serial: str = Field(..., alias="device.serial")
    device_name: str = Field(..., alias="device.name")
    rule_id: int
    rule_code: str = Field(..., alias="rule.code")
    region_id: int
    region_name: str = Field(..., alias="region.name")
    severity: str
    status: str
    started_at: dt.datetime
    last_at: dt.datetime
    occurrences: int
    key: str
    value: float | None
    value_text: str
    message: str
    acknowledged_by_id: int | None
    acknowledged_at: dt.datetime | None
    cleared_by_id: int | None
    cleared_at: dt.datetime | None
    note: str
    escalation_level: int = Field(..., description="0 网格/社区, 1 街道, 2 区县 (D4 escalation while unacknowledged)")
    escalated_at: dt.datetime | None
    next_escalation_at: dt.datetime | None


class AlarmActionIn(Schema):
    note: str = Field("", max_length=300)


class NotificationOut(Schema):
    id: int
    alarm_id: int
    message: str = Field(..., alias="alarm.message")
    severity: str = Field(..., alias="alarm.severity")
    created_at: dt.datetime
    read_at: dt.datetime | None


class IngestOut(Schema):
    stored: int
    duplicates: int


class CommandIn(Schema):
    method: str = Field(..., max_length=32, description="setPower | setDim | setSchedule | openGate | reboot")
    params: dict[str, Any] = {}
    timeout_s: int = Field(30, ge=1, le=24 * 3600)


class CommandOut(Schema):
    id: int
    device_id: int
    device_serial: str = Field(..., alias="device.serial")
    rpc_id: int
    method: str
    params: dict[str, Any]
    status: str
    created_by_id: int | None
    created_at: dt.datetime
    expires_at: dt.datetime
    delivered_at: dt.datetime | None
    responded_at: dt.datetime | None
    response: Any = None


class RpcRequestOut(Schema):
    """What an HTTP-polling device receives (ThingsBoard's shape)."""

    id: int = Field(..., alias="rpc_id")
    method: str
    params: dict[str, Any]


class RpcAnswerOut(Schema):
    id: int = Field(..., alias="rpc_id")
    status: str


# ---- history series (D6) -------------------------------------------------------------------------
class SeriesPointOut(Schema):
    ts: dt.datetime
    value: float = Field(..., description="the reading (raw) or the bucket mean (rollups)")
    min: float | None = None
    max: float | None = None
    last: float | None = None
    count: int | None = None


class SeriesOut(Schema):
    device_id: int
    key: str
    name: str
    unit: str
    resolution: Literal["raw", "5m", "1h", "1d"]
    start: dt.datetime
    end: dt.datetime
    truncated: bool
    points: list[SeriesPointOut]


# ---- environment (V1, V2) ------------------------------------------------------------------------
class BinOut(Schema):
    device_id: int
    serial: str
    name: str
    location: str
    region: str
    fill_level: float | None = Field(None, description="% (empty while collected and awaiting the next reading)")
    fill_at: dt.datetime | None
    weight: float | None
    fill_rate_per_hour: float | None = Field(None, description="%/h, least squares over the last 24 h since emptied")
    predicted_fill: float | None = Field(None, description="% expected at the next round")
    reason: Literal["full", "predicted", ""]
    position: int | None = Field(None, description="stop number on the route")
    last_collected_at: dt.datetime | None


class RouteBinsOut(Schema):
    route_id: int | None
    name: str
    round_times: str
    next_round_at: dt.datetime
    bins: list[BinOut]


class CollectionListOut(Schema):
    threshold: float
    generated_at: dt.datetime
    routes: list[RouteBinsOut]


class CollectIn(Schema):
    note: str = Field("", max_length=200)


class CollectionOut(Schema):
    id: int
    device_id: int
    collected_at: dt.datetime
    fill_before: float | None
    weight_before: float | None
    note: str


class RouteIn(Schema):
    region_id: int
    name: str = Field(..., min_length=1, max_length=80)
    round_times: str = Field("07:00,16:00", max_length=100, description="HH:MM, comma separated (local time)")
    device_ids: list[int] = Field(default_factory=list, description="the bins in stop order")
    note: str = Field("", max_length=200)


class RouteOut(Schema):
    id: int
    region_id: int
    name: str
    round_times: str
    note: str
    device_ids: list[int]


class EmissionReadingOut(Schema):
    key: str
    name: str
    unit: str
    value: float | None
    ts: dt.datetime | None
    limit: float | None
    exceeded: bool


class EmissionDayOut(Schema):
    date: dt.date
    hours: dict[str, int] = Field(..., description="key → hours whose maximum exceeded the limit")
    total: int


class EmissionStationOut(Schema):
    device_id: int
    serial: str
    name: str
    location: str
    exceeded_now: bool
    readings: list[EmissionReadingOut]
    days: list[EmissionDayOut]
