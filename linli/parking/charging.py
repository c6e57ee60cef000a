"""K7 电动汽车充电: charger piles are iot devices (type ``ev_charger``) standing at a parking space.
Residents book a time slot (no overlap of active slots per pile — a database constraint), start and
stop a charge through iot commands (D5; an offline pile is a clear 409), and pay a bill computed from
the pile's meter readings and the tariff (energy by time of use + service fee per hour + idle fee
after the car is full, capped). ``bill_session`` is a pure function of integers and instants.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from linli.audit.services import record, snapshot
from linli.core.errors import Conflict, Invalid, NotFound
from linli.core.i18n import Msg
from linli.iot import selectors as iot_selectors
from linli.iot import services as iot_services
from linli.iot.models import CommandStatus, Device, DeviceCommand, DeviceStatus, LatestValue, Telemetry
from linli.iot.perms import IotPerm
from linli.orgs.perms import check_perm_at
from linli.people.models import Person
from linli.places.models import Region

from .models import (
    ACTIVE_BOOKING,
    BookingStatus,
    Charger,
    ChargerBooking,
    ChargingSession,
    ChargingStatus,
    ChargingTariff,
    ParkingLot,
    Space,
)
from .overlap import book
from .perms import ParkingPerm as P
from .services import check_is_resident, plate_or_invalid
from .sharing import _minute, _near, _path, own_or_staff, post_payment

DEVICE_TYPE = "ev_charger"
OFFSET = 8 * 3600  # Asia/Shanghai: UTC+8 all year (no DST since 1991)
DAY = 86_400
MAX_SLOT = dt.timedelta(hours=24)
NO_SHOW_AFTER = dt.timedelta(minutes=15)


# ---- the bill (pure) ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tariff:
    """``periods``: ((start minute of the local day, fen per kWh), …) sorted, the first at minute 0."""

    periods: tuple[tuple[int, int], ...]
    service_fen_per_hour: int = 0
    idle_fen_per_hour: int = 0
    idle_grace_s: int = 900
    idle_cap_fen: int | None = None

    @classmethod
    def of(cls, t: ChargingTariff) -> Tariff:
        return cls(tuple(parse_periods(t.periods)), t.service_fen_per_hour, t.idle_fen_per_hour, t.idle_grace_minutes * 60, t.idle_cap_fen)

    def price_at(self, local_minute: int) -> int:
        price = self.periods[0][1]
        for start, fen in self.periods:
            if start <= local_minute:
                price = fen
        return price


@dataclass(frozen=True, slots=True)
class ChargeBill:
    energy_wh: int
    energy_fen: int
    service_fen: int
    idle_fen: int

    @property
    def total_fen(self) -> int:
        return self.energy_fen + self.service_fen + self.idle_fen


def parse_periods(raw: Any) -> list[tuple[int, int]]:
    """[{"from": "HH:MM", "fen_per_kwh": n}, …] → sorted (minute, fen); the first must start at 00:00."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= 24:
        raise Invalid("charging.periods", Msg("分时电价须为1至24个时段", "Give 1 to 24 time-of-use periods"))
    out = []
    for p in raw:
        hhmm, fen = (p.get("from"), p.get("fen_per_kwh")) if isinstance(p, dict) else (None, None)
        m = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", hhmm) if isinstance(hhmm, str) else None
        if m is None or not isinstance(fen, int) or isinstance(fen, bool) or not 0 <= fen <= 100_000:
            raise Invalid("charging.periods", Msg("时段格式应为 {\"from\": \"HH:MM\", \"fen_per_kwh\": 整数}", "Each period is {\"from\": \"HH:MM\", \"fen_per_kwh\": int}"))
        out.append((int(m[1]) * 60 + int(m[2]), fen))
    out.sort()
    if out[0][0] != 0 or len({s for s, _ in out}) != len(out):
        raise Invalid("charging.periods", Msg("第一个时段须从00:00开始，且起点不重复", "The first period starts at 00:00 and starts are unique"))
    return out


def _epoch(t: dt.datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("aware datetimes only")
    return int(t.timestamp())


def _energy_cost(tariff: Tariff, t0: int, t1: int, wh: int) -> Fraction:
    """Fen for ``wh`` drawn evenly over [t0, t1) (epoch s), split at the tariff's period boundaries."""
    if wh <= 0:
        return Fraction(0)
    if t1 <= t0:
        return Fraction(wh * tariff.price_at((t0 + OFFSET) % DAY // 60), 1000)
    starts = [s * 60 for s, _ in tariff.periods]
    cost, t = Fraction(0), t0
    while t < t1:
        local = (t + OFFSET) % DAY
        later = [s for s in starts if s > local]
        nxt = min(t1, t + ((later[0] if later else DAY) - local))
        cost += Fraction(wh * (nxt - t) * tariff.price_at(local // 60), (t1 - t0) * 1000)
        t = nxt
    return cost


def _ceil(x: Fraction | int) -> int:
    return -(-x.numerator // x.denominator) if isinstance(x, Fraction) else int(x)


def bill_session(tariff: Tariff, readings: list[tuple[dt.datetime, int]], started: dt.datetime, stopped: dt.datetime,
                 full_at: dt.datetime | None = None) -> ChargeBill:
    """``readings``: (instant, cumulative meter Wh) including the start and stop readings. Energy is the
    sum of the positive increases (a meter reset adds nothing); each increase is priced by the periods
    it spans. Service fee pro rata per second of the session; idle fee from ``full_at`` + grace to the
    stop, capped. Totals are rounded up to a fen once; never negative."""
    t_start, t_stop = _epoch(started), max(_epoch(started), _epoch(stopped))
    pts = sorted((min(max(_epoch(t), t_start), t_stop), int(w)) for t, w in readings)
    energy_wh, cost = 0, Fraction(0)
    for (a, wa), (b, wb) in zip(pts, pts[1:], strict=False):
        inc = max(0, wb - wa)
        energy_wh += inc
        cost += _energy_cost(tariff, a, b, inc)
    duration = t_stop - t_start
    service = _ceil(Fraction(duration * tariff.service_fen_per_hour, 3600))
    idle = 0
    if full_at is not None:
        idle_s = max(0, t_stop - max(t_start, _epoch(full_at)) - tariff.idle_grace_s)
        idle = _ceil(Fraction(idle_s * tariff.idle_fen_per_hour, 3600))
        if tariff.idle_cap_fen is not None:
            idle = min(idle, tariff.idle_cap_fen)
    return ChargeBill(energy_wh, _ceil(cost), service, idle)


# ---- tariffs and chargers -------------------------------------------------------------------------------


@transaction.atomic
def tariff_create(*, actor: Any, region: Region, name: str, periods: list[dict[str, Any]], service_fen_per_hour: int = 0,
                  idle_fen_per_hour: int = 0, idle_grace_minutes: int = 15, idle_cap_fen: int | None = None) -> ChargingTariff:
    check_perm_at(actor, P.MANAGE, region.path, code="parking.region_not_found")
    parse_periods(periods)
    if min(service_fen_per_hour, idle_fen_per_hour, idle_grace_minutes, idle_cap_fen or 0) < 0:
        raise Invalid("charging.tariff_negative", Msg("资费不能为负", "Tariff amounts cannot be negative"))
    t = ChargingTariff.objects.create(region=region, name=name[:100], periods=periods, service_fen_per_hour=service_fen_per_hour,
                                      idle_fen_per_hour=idle_fen_per_hour, idle_grace_minutes=idle_grace_minutes, idle_cap_fen=idle_cap_fen)
    record(actor=actor, action="charging.tariff_create", obj=t, after=snapshot(t), region_path=region.path)
    return t


@transaction.atomic
def charger_register(*, actor: Any, device: Device, space: Space, tariff: ChargingTariff, name: str,
                     max_power_kw: Decimal | float = 7) -> Charger:
    """Put an ``ev_charger`` device at a space of a lot (parking.manage over the lot)."""
    path = _path(space.lot_id)
    check_perm_at(actor, P.MANAGE, path, code="parking.space_not_found")
    dev = Device.objects.select_related("device_type", "region").get(pk=device.pk)
    if dev.device_type.code != DEVICE_TYPE:
        raise Invalid("charging.not_a_charger", Msg("该设备不是充电桩类型", "The device is not an EV charger"))
    if not (dev.region.path.startswith(path) or path.startswith(dev.region.path)):
        raise Invalid("charging.device_elsewhere", Msg("设备不在该停车场所在区域", "The device is not in the lot's region"))
    tariff_path = Region.objects.values_list("path", flat=True).get(pk=tariff.region_id)
    if not path.startswith(tariff_path):
        raise Invalid("charging.tariff_elsewhere", Msg("资费不适用于该停车场", "The tariff does not apply to this lot"))
    if Charger.objects.filter(device=dev).exists() or Charger.objects.filter(space=space).exists():
        raise Conflict("charging.already_registered", Msg("该设备或车位已登记为充电桩", "Device or space already has a charger"))
    c = Charger.objects.create(device=dev, lot_id=space.lot_id, space=space, tariff=tariff, name=name[:60], max_power_kw=max_power_kw)
    record(actor=actor, action="charging.charger_register", obj=c, after=snapshot(c), region_path=path)
    return c


# ---- slots --------------------------------------------------------------------------------------------


def _reachable(pid: int) -> Any:
    return _near(Person.objects.values_list("region__path", flat=True).get(pk=pid))


@transaction.atomic
def booking_create(*, actor: Any, charger: Charger, plate: str, start_at: dt.datetime, end_at: dt.datetime,
                   now: dt.datetime | None = None) -> ChargerBooking:
    pid = check_is_resident(actor)
    c = Charger.objects.filter(_reachable(pid), pk=charger.pk, is_active=True).first()
    if c is None:
        raise NotFound("charging.charger_not_found")
    start_at, end_at, now = _minute(start_at), _minute(end_at), now or timezone.now()
    if end_at <= start_at or end_at - start_at > MAX_SLOT or end_at <= now:
        raise Invalid("charging.slot_range", Msg("预约须在未来，结束晚于开始，且不超过24小时", "A slot lies in the future, ends after it starts and lasts at most 24 h"))
    p = plate_or_invalid(plate)
    taken = Conflict("charging.slot_taken", Msg("该充电桩此时段已被预约", "This charger is already booked then"))
    b = book(ChargerBooking, taken=taken, charger=c, lot_id=c.lot_id, booker_id=pid, plate=p, start_at=start_at, end_at=end_at)
    record(actor=actor, action="charging.book", obj=b, after=snapshot(b), region_path=_path(c.lot_id))
    return b


@transaction.atomic
def booking_cancel(*, actor: Any, booking: ChargerBooking, now: dt.datetime | None = None) -> ChargerBooking:
    b = ChargerBooking.objects.select_for_update().get(pk=booking.pk)
    path = _path(b.lot_id)
    own_or_staff(actor, b.booker_id, P.OPERATE, path, "charging.booking_not_found")
    if b.status != BookingStatus.BOOKED or (now or timezone.now()) >= b.end_at:
        raise Conflict("charging.cannot_cancel", Msg("该预约不能取消", "This booking cannot be cancelled"))
    before = snapshot(b)
    b.status = BookingStatus.CANCELLED
    b.save(update_fields=["status", "updated_at"])
    record(actor=actor, action="charging.cancel", obj=b, before=before, after=snapshot(b), region_path=path)
    return b


# ---- sessions -----------------------------------------------------------------------------------------


def register_commands() -> None:
    """Teach the D5 command service the two pile commands (called from ``ParkingConfig.ready``)."""

    def ok(p: dict) -> bool:
        return set(p) == {"session"} and isinstance(p["session"], int) and not isinstance(p["session"], bool)

    iot_services.COMMAND_METHODS.setdefault("startCharging", ({"charger"}, ok))
    iot_services.COMMAND_METHODS.setdefault("stopCharging", ({"charger"}, ok))


def _on_behalf(actor: Any, device_path: str) -> Any:
    """The resident's own account, allowed to command this one pile for this one call: the command is
    recorded under their name, and the scope grant is limited to the pile's region."""
    delegate = copy.copy(actor)
    own = actor.scope_paths

    def scope_paths(perm: str) -> list[str] | None:
        return [device_path] if perm == IotPerm.COMMAND_SEND else own(perm)

    delegate.scope_paths = scope_paths
    return delegate


def _send(actor: Any, charger: Charger, method: str, session_id: int) -> DeviceCommand:
    dev = charger.device
    path = Region.objects.values_list("path", flat=True).get(pk=dev.region_id)
    return iot_services.command_send(actor=_on_behalf(actor, path), device=dev, method=method, params={"session": session_id}, timeout_s=60)


def _check_online(charger: Charger, now: dt.datetime) -> None:
    dev = charger.device
    if dev.status != DeviceStatus.ACTIVE or not iot_selectors.is_online(dev, iot_selectors.online_cutoffs(now=now)):
        raise Conflict("charging.charger_offline", Msg("充电桩离线或停用，暂时无法操作，请联系物业", "The charger is offline or disabled; please contact the property office"),
                       detail={"last_seen_at": dev.last_seen_at.isoformat() if dev.last_seen_at else None})


def _latest(device_id: int, key: str) -> LatestValue | None:
    return LatestValue.objects.filter(device_id=device_id, key=key).first()


def _meter_kwh(device_id: int) -> Decimal:
    lv = _latest(device_id, "energy_kwh")
    if lv is None or lv.value is None:
        raise Conflict("charging.no_meter_reading", Msg("充电桩尚未上报电表读数", "The charger has not reported its meter reading yet"))
    return Decimal(str(lv.value)).quantize(Decimal("0.001"))


@transaction.atomic
def start(*, actor: Any, charger: Charger, now: dt.datetime | None = None) -> ChargingSession:
    pid = check_is_resident(actor)
    now = now or timezone.now()
    c = Charger.objects.select_for_update().select_related("device").filter(_reachable(pid), pk=charger.pk).first()
    if c is None:
        raise NotFound("charging.charger_not_found")
    if not c.is_active:
        raise Conflict("charging.charger_disabled", Msg("充电桩已停用", "The charger is disabled"))
    _check_online(c, now)
    status = _latest(c.device_id, "status")
    if status is not None and status.value_text == "fault":
        raise Conflict("charging.charger_fault", Msg("充电桩故障，已通知物业", "The charger reports a fault"))
    if ChargingSession.objects.filter(charger=c, status=ChargingStatus.CHARGING).exists():
        raise Conflict("charging.charger_busy", Msg("充电桩正在使用中", "The charger is in use"))
    slots = list(ChargerBooking.objects.select_for_update().filter(charger=c, status__in=ACTIVE_BOOKING, start_at__lte=now + NO_SHOW_AFTER,
                                                                   end_at__gt=now))
    mine = next((b for b in slots if b.booker_id == pid), None)
    if mine is None and slots:
        raise Conflict("charging.charger_reserved", Msg("该充电桩此时段已被他人预约", "Someone else has booked this charger now"),
                       detail={"until": max(b.end_at for b in slots).isoformat()})
    try:
        with transaction.atomic():
            s = ChargingSession.objects.create(charger=c, lot_id=c.lot_id, person_id=pid, booking=mine, started_at=now,
                                               start_kwh=_meter_kwh(c.device_id))
    except IntegrityError as exc:
        raise Conflict("charging.charger_busy", Msg("充电桩正在使用中", "The charger is in use")) from exc
    if mine is not None:
        ChargerBooking.objects.filter(pk=mine.pk).update(status=BookingStatus.IN_USE, updated_at=now)
    s.start_command = _send(actor, c, "startCharging", s.pk)
    s.save(update_fields=["start_command", "updated_at"])
    record(actor=actor, action="charging.start", obj=s, after=snapshot(s), region_path=_path(c.lot_id))
    return s


def _full_at(device_id: int, since: dt.datetime, until: dt.datetime) -> dt.datetime | None:
    return (Telemetry.objects.filter(device_id=device_id, key="status", value_text="full", ts__gte=since, ts__lte=until)
            .order_by("ts").values_list("ts", flat=True).first())


def _readings(device_id: int, since: dt.datetime, until: dt.datetime) -> list[tuple[dt.datetime, int]]:
    rows = Telemetry.objects.filter(device_id=device_id, key="energy_kwh", ts__gt=since, ts__lt=until, value__isnull=False).order_by("ts")
    return [(ts, round(v * 1000)) for ts, v in rows.values_list("ts", "value")[:20_000]]


@transaction.atomic
def stop(*, actor: Any, session: ChargingSession, now: dt.datetime | None = None) -> ChargingSession:
    """Stop through the pile and bill. Residents need the pile online; staff (parking.operate) may
    close a session of an offline pile (billed up to its last reading)."""
    s = ChargingSession.objects.select_for_update().select_related("charger__device", "charger__tariff").get(pk=session.pk)
    path = _path(s.lot_id)
    staff = own_or_staff(actor, s.person_id, P.OPERATE, path, "charging.session_not_found")
    if s.status != ChargingStatus.CHARGING:
        raise Conflict("charging.not_charging", Msg("该充电已结束", "This charge is not running"))
    now = now or timezone.now()
    if not staff:
        _check_online(s.charger, now)
    stop_kwh = max(_meter_kwh(s.charger.device_id), s.start_kwh)
    before = snapshot(s)
    if not staff or iot_selectors.is_online(s.charger.device, iot_selectors.online_cutoffs(now=now)):
        s.stop_command = _send(actor, s.charger, "stopCharging", s.pk)
    readings = [(s.started_at, int(s.start_kwh * 1000)), *_readings(s.charger.device_id, s.started_at, now), (now, int(stop_kwh * 1000))]
    s.full_at = _full_at(s.charger.device_id, s.started_at, now)
    b = bill_session(Tariff.of(s.charger.tariff), readings, s.started_at, now, s.full_at)
    s.status, s.stopped_at, s.stop_kwh = ChargingStatus.COMPLETED, now, stop_kwh
    s.energy_wh, s.energy_fen, s.service_fen, s.idle_fen = b.energy_wh, b.energy_fen, b.service_fen, b.idle_fen
    s.save()
    if s.booking_id:
        ChargerBooking.objects.filter(pk=s.booking_id, status=BookingStatus.IN_USE).update(status=BookingStatus.COMPLETED, updated_at=now)
    record(actor=actor, action="charging.stop", obj=s, before=before, after=snapshot(s), region_path=path)
    return s


@transaction.atomic
def pay(*, actor: Any, session: ChargingSession, amount_fen: int, method: str = "online", now: dt.datetime | None = None) -> ChargingSession:
    s = ChargingSession.objects.select_for_update().get(pk=session.pk)
    path = _path(s.lot_id)
    own_or_staff(actor, s.person_id, P.OPERATE, path, "charging.session_not_found")
    if s.due_fen == 0:
        raise Conflict("charging.nothing_due", Msg("当前无需付款", "Nothing is due"))
    if amount_fen != s.due_fen:
        raise Invalid("charging.amount_mismatch", Msg("付款金额应为{due}分", "The amount due is {due} fen"), due=s.due_fen, detail={"due_fen": s.due_fen})
    before = snapshot(s)
    region_id = ParkingLot.objects.values_list("region_id", flat=True).get(pk=s.lot_id)
    post_payment(region_id=region_id, subject={"charging_session": s}, payer_id=s.person_id, owner_id=None, amount_fen=amount_fen, permille=1000)
    s.paid_fen += amount_fen
    s.paid_at = now or timezone.now()
    s.save(update_fields=["paid_fen", "paid_at", "updated_at"])
    record(actor=actor, action="charging.pay", obj=s, before=before, after=snapshot(s), detail={"method": method[:20]}, region_path=path)
    return s


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Idempotent: charges whose start command failed or timed out become ``failed`` (nothing billed);
    slots not used within 15 minutes of their start become no-shows (the pile is free again)."""
    now = now or timezone.now()
    out = {"failed": 0, "no_show": 0}
    bad = (CommandStatus.FAILED, CommandStatus.TIMED_OUT)
    for s in ChargingSession.objects.filter(status=ChargingStatus.CHARGING, start_command__status__in=bad).order_by("id")[:1000]:
        with transaction.atomic():
            n = ChargingSession.objects.filter(pk=s.pk, status=ChargingStatus.CHARGING).update(
                status=ChargingStatus.FAILED, stopped_at=s.started_at, stop_kwh=s.start_kwh, updated_at=now)
            if n:
                if s.booking_id:
                    ChargerBooking.objects.filter(pk=s.booking_id, status=BookingStatus.IN_USE).update(status=BookingStatus.BOOKED, updated_at=now)
                record(actor=None, action="charging.start_failed", obj=s, after={"status": "failed"}, region_path=_path(s.lot_id))
                out["failed"] += 1
    stale = ChargerBooking.objects.filter(status=BookingStatus.BOOKED, start_at__lt=now - NO_SHOW_AFTER)
    for b in stale.order_by("id")[:5000]:
        with transaction.atomic():
            if ChargerBooking.objects.filter(pk=b.pk, status=BookingStatus.BOOKED).update(status=BookingStatus.NO_SHOW, updated_at=now):
                record(actor=None, action="charging.no_show", obj=b, after={"status": "no_show"}, region_path=_path(b.lot_id))
                out["no_show"] += 1
    return out


# ---- reads --------------------------------------------------------------------------------------------


def chargers_near(actor: Any) -> QuerySet[Charger]:
    pid = check_is_resident(actor)
    return Charger.objects.filter(_reachable(pid), is_active=True).select_related("lot", "space", "device", "tariff")


def charger_for_resident(*, actor: Any, charger_id: int) -> Charger:
    c = chargers_near(actor).filter(pk=charger_id).first()
    if c is None:
        raise NotFound("charging.charger_not_found")
    return c


def charger_list(*, actor: Any, lot_id: int | None = None) -> QuerySet[Charger]:
    qs = Charger.objects.for_actor(actor, P.VIEW).select_related("lot", "space", "device", "tariff")
    return qs.filter(lot_id=lot_id) if lot_id is not None else qs


def charger_get(*, actor: Any, charger_id: int) -> Charger:
    c = charger_list(actor=actor).filter(pk=charger_id).first()
    if c is None:
        raise NotFound("charging.charger_not_found")
    return c


def session_list(*, actor: Any, charger_id: int | None = None, status: str | None = None) -> QuerySet[ChargingSession]:
    qs = ChargingSession.objects.for_actor(actor, P.VIEW).select_related("charger")
    if charger_id is not None:
        qs = qs.filter(charger_id=charger_id)
    return qs.filter(status=status) if status else qs


def my_sessions(actor: Any) -> QuerySet[ChargingSession]:
    pid = getattr(actor, "person_id", None)
    return ChargingSession.objects.filter(person_id=pid).select_related("charger") if pid else ChargingSession.objects.none()


def my_bookings(actor: Any) -> QuerySet[ChargerBooking]:
    pid = getattr(actor, "person_id", None)
    return ChargerBooking.objects.filter(booker_id=pid).select_related("charger") if pid else ChargerBooking.objects.none()


def session_get(*, actor: Any, session_id: int) -> ChargingSession:
    s = my_sessions(actor).filter(pk=session_id).first() or session_list(actor=actor).filter(pk=session_id).first()
    if s is None:
        raise NotFound("charging.session_not_found")
    return s


def booking_get(*, actor: Any, booking_id: int) -> ChargerBooking:
    b = my_bookings(actor).filter(pk=booking_id).first() or ChargerBooking.objects.for_actor(actor, P.VIEW).filter(pk=booking_id).first()
    if b is None:
        raise NotFound("charging.booking_not_found")
    return b


def booking_list(*, actor: Any, charger_id: int | None = None) -> QuerySet[ChargerBooking]:
    qs = ChargerBooking.objects.for_actor(actor, P.VIEW).select_related("charger")
    return qs.filter(charger_id=charger_id) if charger_id is not None else qs


def charger_states(chargers: list[Charger], *, now: dt.datetime | None = None) -> dict[int, dict[str, Any]]:
    """Per charger: online, the pile's reported status and power, and whether a charge is running (3 queries)."""
    now = now or timezone.now()
    cut = iot_selectors.online_cutoffs(now=now)
    dev_ids = [c.device_id for c in chargers]
    latest: dict[tuple[int, str], LatestValue] = {(lv.device_id, lv.key): lv for lv in
                                                 LatestValue.objects.filter(device_id__in=dev_ids, key__in=["status", "power_kw"])}
    busy = set(ChargingSession.objects.filter(charger__in=chargers, status=ChargingStatus.CHARGING).values_list("charger_id", flat=True))
    out = {}
    for c in chargers:
        st, pw = latest.get((c.device_id, "status")), latest.get((c.device_id, "power_kw"))
        out[c.pk] = {"online": c.device.status == DeviceStatus.ACTIVE and iot_selectors.is_online(c.device, cut),
                     "status": st.value_text if st else "", "power_kw": pw.value if pw else None, "busy": c.pk in busy}
    return out
