"""In/Out schemas of /api/v1/parking/sharing (K6) and /api/v1/parking/charging (K7)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema


class WindowIn(Schema):
    space_id: int
    start_at: dt.datetime
    end_at: dt.datetime
    price_mode: str = "hourly"
    price_fen: int = Field(ge=0, le=1_000_000)


class WindowOut(Schema):
    id: int
    space_id: int
    space_number: str = Field(alias="space.number")
    lot_id: int
    lot_name: str = Field(alias="lot.name")
    owner_id: int
    start_at: dt.datetime
    end_at: dt.datetime
    price_mode: str
    price_fen: int
    status: str


class BookingIn(Schema):
    window_id: int
    plate: str = Field(max_length=12)
    start_at: dt.datetime
    end_at: dt.datetime


class BookingOut(Schema):
    id: int
    window_id: int
    space_id: int
    space_number: str = Field(alias="space.number")
    lot_id: int
    lot_name: str = Field(alias="lot.name")
    booker_id: int
    plate: str
    start_at: dt.datetime
    end_at: dt.datetime
    status: str
    amount_fen: int
    overstay_fen: int
    paid_fen: int
    due_fen: int
    entered_at: dt.datetime | None
    exited_at: dt.datetime | None
    overstaying: bool
    conflict: bool


class TermsIn(Schema):
    platform_permille: int = Field(0, ge=0, le=1000)
    grace_minutes: int = Field(15, ge=0, le=240)
    no_show_fen: int = Field(0, ge=0, le=1_000_000)
    overstay_fen_per_hour: int = Field(0, ge=0, le=1_000_000)


class TermsOut(TermsIn):
    lot_id: int


class LedgerOut(Schema):
    id: int
    booking_id: int | None
    charging_session_id: int | None
    payment_no: int
    person_id: int | None
    kind: str
    amount_fen: int
    created_at: dt.datetime


class EarningsOut(Schema):
    balance_fen: int


class SettlementOut(Schema):
    person_id: int
    name: str
    total_fen: int


class TariffPeriod(Schema):
    from_: str = Field(alias="from", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    fen_per_kwh: int = Field(ge=0, le=100_000)


class TariffIn(Schema):
    region_id: int
    name: str = Field(max_length=100)
    periods: list[TariffPeriod] = Field(min_length=1, max_length=24)
    service_fen_per_hour: int = Field(0, ge=0, le=1_000_000)
    idle_fen_per_hour: int = Field(0, ge=0, le=1_000_000)
    idle_grace_minutes: int = Field(15, ge=0, le=1440)
    idle_cap_fen: int | None = Field(None, ge=0, le=10_000_000)


class TariffOut(Schema):
    id: int
    region_id: int
    name: str
    periods: list[dict]
    service_fen_per_hour: int
    idle_fen_per_hour: int
    idle_grace_minutes: int
    idle_cap_fen: int | None


class ChargerIn(Schema):
    device_id: int
    space_id: int
    tariff_id: int
    name: str = Field(max_length=60)
    max_power_kw: Decimal = Field(Decimal("7"), ge=0, le=1000)


class ChargerOut(Schema):
    id: int
    name: str
    lot_id: int
    lot_name: str = Field(alias="lot.name")
    space_id: int
    space_number: str = Field(alias="space.number")
    device_id: int
    tariff_id: int
    max_power_kw: Decimal
    is_active: bool


class ChargerStateOut(ChargerOut):
    online: bool
    status: str
    power_kw: float | None
    busy: bool


class SlotIn(Schema):
    charger_id: int
    plate: str = Field(max_length=12)
    start_at: dt.datetime
    end_at: dt.datetime


class SlotOut(Schema):
    id: int
    charger_id: int
    booker_id: int
    plate: str
    start_at: dt.datetime
    end_at: dt.datetime
    status: str


class ChargingOut(Schema):
    id: int
    charger_id: int
    person_id: int
    booking_id: int | None
    status: str
    started_at: dt.datetime
    stopped_at: dt.datetime | None
    full_at: dt.datetime | None
    start_kwh: Decimal
    stop_kwh: Decimal | None
    energy_wh: int
    energy_fen: int
    service_fen: int
    idle_fen: int
    total_fen: int
    paid_fen: int
    due_fen: int
    start_command_id: int | None
    stop_command_id: int | None
