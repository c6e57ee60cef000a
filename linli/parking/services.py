"""Writes for parking (K1–K5). Keyword-only, atomic, permission and scope checked first (out of
scope ⇒ 404), audited. Writes that change an entry decision append a ``ParkingChange`` row and poke
the decision index after commit. Entries, exits, payments and moves that change free spaces are
published on the live channel "parking" after commit (lot id, kind and region path — never a plate)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from linli.audit.services import record, snapshot
from linli.core import live
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound, validation_detail
from linli.core.i18n import Msg
from linli.orgs.models import hash_token
from linli.orgs.perms import check_perm_at
from linli.people.models import Person
from linli.places.models import Estate, Region

from . import decision, plates
from .billing import Terms, bill
from .models import (
    AlarmKind,
    BillingRule,
    Direction,
    Energy,
    FlagKind,
    GuidanceDisplay,
    OverusePolicy,
    ParkingAlarm,
    ParkingChange,
    ParkingEvent,
    ParkingLot,
    ParkingPass,
    ParkingSession,
    PassKind,
    PassStatus,
    PlateFlag,
    SessionKind,
    SessionStatus,
    Space,
    SpaceKind,
    Vehicle,
    Zone,
)
from .perms import ParkingPerm as P

MAX_PLATES = 5


def changed(entity: str, entity_id: int = 0) -> None:
    ParkingChange.objects.create(entity=entity, entity_id=entity_id)
    transaction.on_commit(decision.poke)


def _clean(obj: Any) -> None:
    try:
        obj.full_clean(validate_unique=False, validate_constraints=True)
    except ValidationError as exc:
        raise Invalid("parking.invalid", Msg("数据校验失败", "Validation failed"), detail=validation_detail(exc)) from exc


def plate_or_invalid(raw: str) -> str:
    p = plates.normalise(raw)
    if not plates.is_valid(p):
        raise Invalid("parking.plate_invalid", Msg("车牌号不符合GA 36规范", "Licence plate is not valid per GA 36"), detail={"plate": p})
    return p


def _live(kind: str, *, lot_id: int, path: str, free: bool, **ids: Any) -> None:
    """Tell the lot's console after commit; ``free`` = the free-space count moved. An in-memory no-op
    without a live backend (plate entry and exit are benchmarked)."""
    live.publish("parking", {"kind": kind, "lot": lot_id, "free": free, "region": path, **ids})


def _lot_path(lot: ParkingLot) -> str:
    return Region.objects.values_list("path", flat=True).get(pk=lot.region_id)


# ---- structure ------------------------------------------------------------------------------------


@transaction.atomic
def rule_create(*, actor: Any, region: Region, name: str, **terms: Any) -> BillingRule:
    check_perm_at(actor, P.MANAGE, region.path, code="parking.region_not_found")
    unknown = set(terms) - set(Terms.__dataclass_fields__)
    if unknown:
        raise Invalid("parking.rule_field", Msg("未知的收费规则字段", "Unknown billing rule field"), detail={"fields": sorted(unknown)})
    if (terms.get("night_start_minute") is None) != (terms.get("night_end_minute") is None):
        raise Invalid("parking.rule_night", Msg("夜间时段须同时给出开始与结束", "Night window needs both start and end"))
    rule = BillingRule(region=region, name=name, **terms)
    _clean(rule)
    rule.save()
    record(actor=actor, action="parking.rule_create", obj=rule, after=snapshot(rule), region_path=region.path)
    changed("all")
    return rule


@transaction.atomic
def rule_update(*, actor: Any, rule: BillingRule, name: str | None = None, **terms: Any) -> BillingRule:
    """Edit a billing rule (applies to stays billed from now on; lots using it get the new terms at once)."""
    obj = BillingRule.objects.select_for_update().select_related("region").get(pk=rule.pk)
    check_perm_at(actor, P.MANAGE, obj.region.path, code="parking.rule_not_found")
    unknown = set(terms) - set(Terms.__dataclass_fields__)
    if unknown:
        raise Invalid("parking.rule_field", Msg("未知的收费规则字段", "Unknown billing rule field"), detail={"fields": sorted(unknown)})
    before = snapshot(obj)
    if name is not None:
        obj.name = name
    for k, v in terms.items():
        setattr(obj, k, v)
    if (obj.night_start_minute is None) != (obj.night_end_minute is None):
        raise Invalid("parking.rule_night", Msg("夜间时段须同时给出开始与结束", "Night window needs both start and end"))
    _clean(obj)
    obj.save()
    record(actor=actor, action="parking.rule_update", obj=obj, before=before, after=snapshot(obj), region_path=obj.region.path)
    changed("all")
    return obj


@transaction.atomic
def lot_create(*, actor: Any, code: str, name: str, capacity: int, estate: Estate | None = None, region: Region | None = None,
               rule: BillingRule | None = None, overuse_policy: str = OverusePolicy.VISITOR, exit_grace_minutes: int = 15) -> tuple[ParkingLot, str]:
    """A lot of an estate (scope: the estate's community) or of a region; returns the camera token once."""
    region = estate.region if estate is not None else region
    if region is None:
        raise Invalid("parking.lot_scope", Msg("须指定小区或区域", "Name an estate or a region"))
    check_perm_at(actor, P.MANAGE, region.path, code="parking.region_not_found")
    if ParkingLot.objects.filter(code=code).exists():
        raise Conflict("parking.lot_code_taken", Msg("停车场编码已存在", "Lot code already exists"))
    raw = ParkingLot.generate_token()
    lot = ParkingLot(code=code, name=name, capacity=capacity, estate=estate, region=region, rule=rule, overuse_policy=overuse_policy,
                     exit_grace_minutes=exit_grace_minutes, token_hash=hash_token(raw), token_prefix=raw[:10])
    _clean(lot)
    lot.save()
    record(actor=actor, action="parking.lot_create", obj=lot, after=_safe(lot), region_path=region.path)
    changed("all")
    return lot, raw


def _safe(obj: Any) -> dict[str, Any]:
    data = snapshot(obj)
    data.pop("token_hash", None)
    return data


@transaction.atomic
def lot_update(*, actor: Any, lot: ParkingLot, **changes: Any) -> ParkingLot:
    obj = ParkingLot.objects.select_for_update().get(pk=lot.pk)
    path = _lot_path(obj)
    check_perm_at(actor, P.MANAGE, path, code="parking.lot_not_found")
    allowed = {"name", "capacity", "rule", "overuse_policy", "exit_grace_minutes", "is_active"}
    before = _safe(obj)
    for k, v in changes.items():
        if k not in allowed:
            raise Invalid("parking.lot_field", Msg("不可修改的字段", "Field cannot be changed"), detail={"field": k})
        setattr(obj, k, v)
    _clean(obj)
    obj.save()
    record(actor=actor, action="parking.lot_update", obj=obj, before=before, after=_safe(obj), region_path=path)
    changed("all")
    return obj


@transaction.atomic
def zone_create(*, actor: Any, lot: ParkingLot, code: str, name: str, capacity: int = 0) -> Zone:
    path = _lot_path(lot)
    check_perm_at(actor, P.MANAGE, path, code="parking.lot_not_found")
    if Zone.objects.filter(lot=lot, code=code).exists():
        raise Conflict("parking.zone_code_taken", Msg("区域编码已存在", "Zone code already exists"))
    zone = Zone(lot=lot, code=code, name=name, capacity=capacity)
    _clean(zone)
    zone.save()
    record(actor=actor, action="parking.zone_create", obj=zone, after=snapshot(zone), region_path=path)
    return zone


@transaction.atomic
def space_create(*, actor: Any, lot: ParkingLot, number: str, kind: str = SpaceKind.PUBLIC, zone: Zone | None = None,
                 owner: Person | None = None) -> Space:
    path = _lot_path(lot)
    check_perm_at(actor, P.MANAGE, path, code="parking.lot_not_found")
    if zone is not None and zone.lot_id != lot.pk:
        raise Invalid("parking.zone_other_lot", Msg("区域不属于该停车场", "The zone is not in this lot"))
    if kind in (SpaceKind.OWNED, SpaceKind.RENTED) and owner is None:
        raise Invalid("parking.space_owner_required", Msg("产权/租赁车位须指定业主或承租人", "Owned/rented spaces need their owner"))
    if Space.objects.filter(lot=lot, number=number).exists():
        raise Conflict("parking.space_number_taken", Msg("车位号已存在", "Space number already exists in this lot"))
    space = Space(lot=lot, number=number, kind=kind, zone=zone, owner=owner)
    _clean(space)
    space.save()
    record(actor=actor, action="parking.space_create", obj=space, after=snapshot(space), region_path=path)
    return space


# ---- vehicles, passes, flags ------------------------------------------------------------------------


@transaction.atomic
def vehicle_register(*, actor: Any, owner: Person, plate: str, energy: str | None = None, note: str = "") -> Vehicle:
    """Staff (parking.manage over the owner's region) or the owner themselves register a car."""
    path = owner.region.path
    if getattr(actor, "person_id", None) != owner.pk:
        check_perm_at(actor, P.MANAGE, path, code="parking.person_not_found")
    p = plate_or_invalid(plate)
    if energy is None:
        energy = Energy.FUEL if plates.kind(p) == "ordinary" else (Energy.ELECTRIC if "D" in (p[2], p[-1]) else Energy.HYBRID)
    if Vehicle.objects.filter(plate=p).exists():
        raise Conflict("parking.plate_taken", Msg("该车牌已登记", "This plate is already registered"))
    v = Vehicle(plate=p, owner=owner, region=owner.region, energy=energy, note=note)
    _clean(v)
    v.save()
    record(actor=actor, action="parking.vehicle_register", obj=v, after=snapshot(v), region_path=path)
    return v


@transaction.atomic
def pass_create(*, actor: Any, lot: ParkingLot, person: Person, kind: str, plates_: list[str], valid_from: dt.datetime,
                valid_until: dt.datetime, space: Space | None = None, max_inside: int = 1) -> ParkingPass:
    path = _lot_path(lot)
    check_perm_at(actor, P.MANAGE, path, code="parking.lot_not_found")
    norm = list(dict.fromkeys(plate_or_invalid(p) for p in plates_))
    if not 1 <= len(norm) <= MAX_PLATES:
        raise Invalid("parking.pass_plates", Msg("月卡须绑定1至{n}个车牌", "A pass binds 1 to {n} plates"), n=MAX_PLATES)
    if kind not in PassKind.values:
        raise Invalid("parking.pass_kind", Msg("月卡类型无效", "Unknown pass kind"), detail={"allowed": list(PassKind.values)})
    if space is not None and space.lot_id != lot.pk:
        raise Invalid("parking.space_other_lot", Msg("车位不属于该停车场", "The space is not in this lot"))
    if kind == PassKind.FIXED and space is None:
        raise Invalid("parking.pass_space_required", Msg("固定车位卡须指定车位", "A fixed-space pass needs its space"))
    if valid_until <= valid_from:
        raise Invalid("parking.pass_validity", Msg("到期时间须晚于生效时间", "Validity must end after it starts"))
    pp = ParkingPass(lot=lot, person=person, kind=kind, plates=norm, space=space, valid_from=valid_from, valid_until=valid_until,
                     max_inside=max_inside)
    _clean(pp)
    pp.save()
    record(actor=actor, action="parking.pass_create", obj=pp, after=snapshot(pp), region_path=path)
    changed("pass", pp.pk)
    return pp


@transaction.atomic
def pass_cancel(*, actor: Any, parking_pass: ParkingPass) -> ParkingPass:
    pp = ParkingPass.objects.select_for_update().get(pk=parking_pass.pk)
    path = _lot_path(pp.lot)
    check_perm_at(actor, P.MANAGE, path, code="parking.pass_not_found")
    before = snapshot(pp)
    pp.status = PassStatus.CANCELLED
    pp.save(update_fields=["status", "updated_at"])
    record(actor=actor, action="parking.pass_cancel", obj=pp, before=before, after=snapshot(pp), region_path=path)
    changed("pass", pp.pk)
    return pp


@transaction.atomic
def flag_add(*, actor: Any, region: Region, plate: str, kind: str, reason: str) -> PlateFlag:
    check_perm_at(actor, P.FLAG, region.path, code="parking.region_not_found")
    if kind not in FlagKind.values:
        raise Invalid("parking.flag_kind", Msg("布控类型无效", "Unknown flag kind"), detail={"allowed": list(FlagKind.values)})
    f = PlateFlag(region=region, plate=plate_or_invalid(plate), kind=kind, reason=reason, created_by=actor if getattr(actor, "pk", None) else None)
    _clean(f)
    f.save()
    record(actor=actor, action="parking.flag_add", obj=f, after=snapshot(f), region_path=region.path)
    changed("flag", f.pk)
    return f


@transaction.atomic
def flag_remove(*, actor: Any, flag: PlateFlag) -> PlateFlag:
    f = PlateFlag.objects.select_for_update().select_related("region").get(pk=flag.pk)
    check_perm_at(actor, P.FLAG, f.region.path, code="parking.flag_not_found")
    before = snapshot(f)
    f.is_active = False
    f.save(update_fields=["is_active", "updated_at"])
    record(actor=actor, action="parking.flag_remove", obj=f, before=before, after=snapshot(f), region_path=f.region.path)
    changed("flag", f.pk)
    return f


@transaction.atomic
def alarm_acknowledge(*, actor: Any, alarm: ParkingAlarm) -> ParkingAlarm:
    a = ParkingAlarm.objects.select_for_update().select_related("region").get(pk=alarm.pk)
    check_perm_at(actor, P.FLAG, a.region.path, code="parking.alarm_not_found")
    if a.acknowledged_at is None:
        a.acknowledged_at, a.acknowledged_by = timezone.now(), actor
        a.save(update_fields=["acknowledged_at", "acknowledged_by", "updated_at"])
        record(actor=actor, action="parking.alarm_ack", obj=a, after=snapshot(a), region_path=a.region.path)
    return a


# ---- entry and exit (K2, K3) ----------------------------------------------------------------------


def _alarm(lot: decision.LotRow, kind: str, plate: str, message: str, *, allowed: bool, flag_id: int | None = None,
           pass_id: int | None = None, session_id: int | None = None) -> ParkingAlarm:
    a = ParkingAlarm.objects.create(region_id=lot.region_id, lot_id=lot.id, kind=kind, plate=plate, flag_id=flag_id, parking_pass_id=pass_id,
                                    session_id=session_id, allowed=allowed, message=message[:200])
    record(actor=None, action=f"parking.alarm_{kind}", obj=a, after=snapshot(a), region_path=lot.path)
    return a


def _lot_row(lot: Any, index: decision.ParkingIndex | None = None) -> decision.LotRow | None:
    index = index or decision.get_index()
    if isinstance(lot, decision.LotRow):
        return index.lots.get(lot.id) or lot
    return index.lots.get(getattr(lot, "pk", lot))


def _host_for_visitor(lot: decision.LotRow, plate: str, at: dt.datetime) -> int | None:
    """A confirmed visitor invite (access app) for this plate at a house of the lot's estate."""
    try:
        from linli.access.models import VisitorInvite
    except ImportError:  # pragma: no cover - access is an installed app
        return None
    if lot.estate_id is None:
        return None
    return (VisitorInvite.objects.filter(plate=plate, status="confirmed", valid_from__lte=at, valid_until__gt=at,
                                         house__building__estate_id=lot.estate_id)
            .order_by("-id").values_list("host_person_id", flat=True).first())


def _decision_tx() -> Any:
    """The transaction of one barrier decision. With ``LINLI_PARKING_ASYNC_COMMIT`` (opt-in, PostgreSQL)
    its COMMIT does not wait for the WAL flush: a crash of the database server may lose the last
    fraction of a second of decisions (never corrupt them) — the trade for p99 on a busy disk."""
    atomic = transaction.atomic()
    if connection.vendor == "postgresql" and str(getattr(settings, "LINLI_PARKING_ASYNC_COMMIT",
                                                         os.environ.get("LINLI_PARKING_ASYNC_COMMIT", ""))).lower() in ("1", "true", "yes"):
        return _AsyncCommit(atomic)
    return atomic


class _AsyncCommit:
    def __init__(self, atomic: Any) -> None:
        self.atomic = atomic

    def __enter__(self) -> None:
        self.atomic.__enter__()
        if len(connection.atomic_blocks) == 1:  # outermost: our own transaction, not a caller's
            with connection.cursor() as cur:
                cur.execute("SET LOCAL synchronous_commit TO OFF")

    def __exit__(self, *exc: Any) -> Any:
        return self.atomic.__exit__(*exc)


def _log(row: decision.LotRow, plate: str, direction: str, d: decision.Decision, at: dt.datetime) -> decision.Decision:
    """Store the decision (决策日志) — called inside the decision's own transaction — and publish it live."""
    ParkingEvent.objects.create(lot_id=row.id, region_id=row.region_id, plate=plate[:16], direction=direction, allowed=d.allowed,
                                reason=d.reason, at=at, session_id=d.session_id, amount_due_fen=d.amount_due_fen)
    _live(direction, lot_id=row.id, path=row.path, free=d.allowed and d.reason != "already_inside", allowed=d.allowed)
    return d


def _sharing():  # imported late: sharing.py builds on this module
    from . import sharing as mod

    return mod


def plate_entry(*, lot: Any, plate: str, at: dt.datetime | None = None) -> decision.Decision:
    """Open the barrier or not. The index answers flags/passes/rules in memory; the database keeps
    who is inside. The write path is one INSERT for the session and one for the log; a car already
    inside is caught by the one-open-session constraint, not by a SELECT first. Only a pass with more
    plates than cars allowed inside locks its row while counting (一卡多车)."""
    at = at or timezone.now()
    p = plates.normalise(plate)
    index = decision.get_index()
    row = _lot_row(lot, index)
    if row is None:
        return decision.Decision(False, "unknown_lot")
    pre = index.pre_entry(lot_id=row.id, plate=p, at=at)
    if not pre.allowed:
        with _decision_tx():
            if pre.flag is not None:
                _alarm(row, AlarmKind.FLAGGED, p, f"{FlagKind(pre.flag.kind).label}: {pre.flag.reason}", allowed=False,
                       flag_id=pre.flag.id)
            return _log(row, p, Direction.ENTRY, decision.Decision(False, pre.reason), at)
    try:
        with _decision_tx():
            return _enter(row, pre, p, at, may_book=index.may_have_booking(row.id, p))
    except IntegrityError:
        # Already inside (or two camera reads of one car at once): the constraint let one in; this read joins it.
        with transaction.atomic():
            open_id = ParkingSession.objects.filter(lot_id=row.id, plate=p, exit_at__isnull=True).values_list("id", flat=True).first()
            if open_id is None:
                raise
            return _log(row, p, Direction.ENTRY, decision.Decision(True, "already_inside", 0, open_id), at)


def _enter(row: decision.LotRow, pre: decision.Pre, p: str, at: dt.datetime, *, may_book: bool = False) -> decision.Decision:
    kind, reason, pass_id, zone_id, space_id, host, overuse = SessionKind.VISITOR, "visitor", None, None, None, None, None
    pr = pre.pass_row
    if pr is not None:
        full = False
        if len(pr.plates) > pr.max_inside:
            ParkingPass.objects.select_for_update().filter(pk=pr.id).values_list("id", flat=True).first()
            inside = list(ParkingSession.objects.filter(parking_pass_id=pr.id, exit_at__isnull=True).values_list("id", "plate"))
            mine = next((sid for sid, plate in inside if plate == p), None)
            if mine is not None:
                return _log(row, p, Direction.ENTRY, decision.Decision(True, "already_inside", 0, mine), at)
            full = len(inside) >= pr.max_inside
        if full:
            overuse = f"一卡多车：月卡#{pr.id} 已有 {','.join(plate for _sid, plate in inside)} 在场，{p} 入场"
            if row.overuse_policy == OverusePolicy.DENY:
                _alarm(row, AlarmKind.OVERUSE, p, overuse, allowed=False, pass_id=pr.id)
                return _log(row, p, Direction.ENTRY, decision.Decision(False, "pass_overuse"), at)
            reason = "pass_overuse_visitor"
        else:
            kind, reason, pass_id, zone_id, space_id = SessionKind.PASS, "pass", pr.id, pr.zone_id, pr.space_id
    if kind == SessionKind.VISITOR and row.terms is not None and row.terms.visitor_paid_by_host:
        host = _host_for_visitor(row, p, at)
        if host is not None:
            reason = "visitor_host_pays"
    if kind == SessionKind.VISITOR and may_book and (booked := _sharing().on_entry(lot_id=row.id, plate=p, at=at)) is not None:  # K6 booked space
        reason, host, space_id, zone_id = "shared_booking", None, booked.space_id, booked.space.zone_id
    s = ParkingSession.objects.create(lot_id=row.id, region_id=row.region_id, plate=p, kind=kind, entry_at=at, parking_pass_id=pass_id,
                                      zone_id=zone_id, space_id=space_id, host_person_id=host, entry_reason=reason)
    if overuse is not None:
        _alarm(row, AlarmKind.OVERUSE, p, overuse, allowed=True, pass_id=pr.id, session_id=s.pk)
    if pre.flag is not None:
        _alarm(row, AlarmKind.FLAGGED, p, f"{FlagKind.WATCH.label}: {pre.flag.reason}", allowed=True, flag_id=pre.flag.id, session_id=s.pk)
    return _log(row, p, Direction.ENTRY, decision.Decision(True, reason, 0, s.pk), at)


def amount_due(session: ParkingSession, terms: Terms | None, grace_s: int, at: dt.datetime) -> tuple[int, int]:
    """(total for the stay so far, still due) in fen. Time after a payment is free within the grace."""
    if terms is None or (session.kind == SessionKind.PASS and terms.pass_holders_free) or session.entry_reason == "shared_booking":
        return 0, 0  # a shared-space booking is paid through the booking (K6)
    end = at
    if session.paid_at is not None and at <= session.paid_at + dt.timedelta(seconds=grace_s):
        end = session.paid_at
    total = bill(terms, session.entry_at, max(end, session.entry_at))
    return total, max(0, total - session.paid_fen)


def plate_exit(*, lot: Any, plate: str, at: dt.datetime | None = None) -> decision.Decision:
    """Open the exit barrier when nothing is due: pass holders, free stays, stays paid in the portal
    within the grace period, visitors billed to their host."""
    at = at or timezone.now()
    p = plates.normalise(plate)
    row = _lot_row(lot)
    if row is None:
        return decision.Decision(False, "unknown_lot")
    with _decision_tx():
        s = ParkingSession.objects.select_for_update().filter(lot_id=row.id, plate=p, exit_at__isnull=True).first()
        if s is None:
            return _log(row, p, Direction.EXIT, decision.Decision(False, "no_session"), at)
        total, due = amount_due(s, row.terms, row.grace_s, at)
        if due > 0 and s.host_person_id is None:
            if s.amount_fen != total:
                s.amount_fen = total
                s.save(update_fields=["amount_fen"])
            return _log(row, p, Direction.EXIT, decision.Decision(False, "payment_due", due, s.pk), at)
        reason = "host_billed" if due > 0 else ("pass" if s.kind == SessionKind.PASS else ("paid" if s.paid_fen else "free"))
        s.amount_fen, s.exit_at, s.status = total, max(at, s.entry_at), SessionStatus.EXITED
        s.save(update_fields=["amount_fen", "exit_at", "status"])
        if s.entry_reason == "shared_booking":
            _sharing().on_exit(lot_id=row.id, plate=p, at=at)  # K6: complete the booking, charge an overstay
        return _log(row, p, Direction.EXIT, decision.Decision(True, reason, due if reason == "host_billed" else 0, s.pk), at)


def quote(*, session: ParkingSession, at: dt.datetime | None = None) -> dict[str, Any]:
    row = _lot_row(session.lot_id)
    at = at or timezone.now()
    total, due = amount_due(session, row.terms if row else None, row.grace_s if row else 0, at)
    return {"session_id": session.pk, "plate": session.plate, "entry_at": session.entry_at, "at": at, "total_fen": total,
            "paid_fen": session.paid_fen, "due_fen": due, "pay_before": at + dt.timedelta(seconds=row.grace_s if row else 0)}


@transaction.atomic
def pay(*, actor: Any, session: ParkingSession, amount_fen: int, method: str = "online", at: dt.datetime | None = None) -> ParkingSession:
    """Record a payment of exactly what is due now; the car then drives out within the grace period."""
    s = ParkingSession.objects.select_for_update().select_related("region").get(pk=session.pk)
    if s.exit_at is not None:
        raise Conflict("parking.session_closed", Msg("该车已离场", "The car has already left"))
    if not _may_pay(actor, s):
        raise NotFound("parking.session_not_found")
    at = at or timezone.now()
    row = _lot_row(s.lot_id)
    total, due = amount_due(s, row.terms if row else None, row.grace_s if row else 0, at)
    if due == 0:
        raise Conflict("parking.nothing_due", Msg("当前无需缴费", "Nothing is due"))
    if amount_fen != due:
        raise Invalid("parking.amount_mismatch", Msg("缴费金额应为{due}分", "The amount due is {due} fen"), due=due, detail={"due_fen": due})
    before = snapshot(s)
    s.paid_fen += amount_fen
    s.amount_fen, s.paid_at, s.status = total, at, SessionStatus.PAID
    s.save(update_fields=["paid_fen", "amount_fen", "paid_at", "status"])
    record(actor=actor, action="parking.pay", obj=s, before=before, after=snapshot(s), detail={"method": method[:20]}, region_path=s.region.path)
    _live("payment", lot_id=s.lot_id, path=s.region.path, free=False, session=s.pk)
    return s


def _may_pay(actor: Any, s: ParkingSession) -> bool:
    from linli.orgs.perms import covers

    if covers(actor, P.OPERATE, s.region.path):
        return True
    pid = getattr(actor, "person_id", None)
    if pid is None:
        return False
    return s.host_person_id == pid or Vehicle.objects.filter(plate=s.plate, owner_id=pid).exists()


@transaction.atomic
def locate(*, lot: decision.LotRow, plate: str, zone_code: str, space_number: str = "") -> ParkingSession:
    """A zone camera or bay sensor saw ``plate``: where the car is (K4 counters, K5 find my car)."""
    p = plates.normalise(plate)
    s = ParkingSession.objects.select_for_update().filter(lot_id=lot.id, plate=p, exit_at__isnull=True).first()
    if s is None:
        raise NotFound("parking.session_not_found", Msg("该车不在场内", "The car is not inside"))
    zone = Zone.objects.filter(lot_id=lot.id, code=zone_code).first()
    if zone is None:
        raise NotFound("parking.zone_not_found", Msg("区域不存在", "Unknown zone"))
    space = Space.objects.filter(lot_id=lot.id, number=space_number).first() if space_number else None
    if space_number and space is None:
        raise NotFound("parking.space_not_found", Msg("车位不存在", "Unknown space"))
    s.zone, s.space = zone, space
    s.save(update_fields=["zone", "space"])
    _live("located", lot_id=lot.id, path=lot.path, free=True)  # the zones' free counts moved
    return s


def check_is_resident(actor: Any) -> int:
    pid = getattr(actor, "person_id", None)
    if pid is None:
        raise Forbidden("parking.not_a_resident", Msg("仅限已关联住户身份的账号", "Only accounts linked to a resident"))
    return pid


def staff_pass(*, actor: Any, lot: ParkingLot, plate: str, direction: str, at: dt.datetime | None = None) -> decision.Decision:
    """The booth keys in a plate the camera missed: the same decision, under the operator's name (audited)."""
    path = _lot_path(lot)
    check_perm_at(actor, P.OPERATE, path, code="parking.lot_not_found")
    fn = plate_entry if direction == "entry" else plate_exit
    d = fn(lot=lot.pk, plate=plate, at=at)
    with transaction.atomic():
        record(actor=actor, action=f"parking.manual_{direction}", obj=lot, detail={"plate": plates.normalise(plate), "allowed": d.allowed,
                                                                                     "reason": d.reason, "session_id": d.session_id},
               region_path=path)
    return d


# ---- guidance displays (K4): read-only wall screens with a revocable token ----------------------------


@transaction.atomic
def display_create(*, actor: Any, lot: ParkingLot, name: str) -> tuple[GuidanceDisplay, str]:
    """A wall display URL for ``lot``; returns the raw token once (only its SHA-256 is stored)."""
    path = _lot_path(lot)
    check_perm_at(actor, P.MANAGE, path, code="parking.lot_not_found")
    name = (name or "").strip()
    if not name:
        raise Invalid("parking.display_name", Msg("请填写诱导屏名称", "Name the display"))
    raw = GuidanceDisplay.generate_token()
    d = GuidanceDisplay(lot=lot, name=name[:60], token_hash=hash_token(raw), token_prefix=raw[:10],
                        created_by=actor if getattr(actor, "pk", None) else None)
    _clean(d)
    d.save()
    after = snapshot(d)
    after.pop("token_hash", None)
    record(actor=actor, action="parking.display_create", obj=d, after=after, region_path=path)
    return d, raw


@transaction.atomic
def display_revoke(*, actor: Any, display: GuidanceDisplay) -> GuidanceDisplay:
    d = GuidanceDisplay.objects.select_for_update().select_related("lot").get(pk=display.pk)
    path = _lot_path(d.lot)
    check_perm_at(actor, P.MANAGE, path, code="parking.display_not_found")
    if d.revoked_at is None:
        d.revoked_at = timezone.now()
        d.save(update_fields=["revoked_at", "updated_at"])
        record(actor=actor, action="parking.display_revoke", obj=d, detail={"prefix": d.token_prefix}, region_path=path)
    return d


# ---- booth: close a session by hand ---------------------------------------------------------------------


@transaction.atomic
def session_close(*, actor: Any, session: ParkingSession, note: str, at: dt.datetime | None = None) -> ParkingSession:
    """The booth closes a stay by hand (the car left unseen, a misread plate): audited with the reason."""
    s = ParkingSession.objects.select_for_update().select_related("region").get(pk=session.pk)
    check_perm_at(actor, P.OPERATE, s.region.path, code="parking.session_not_found")
    note = (note or "").strip()
    if not note:
        raise Invalid("parking.close_note", Msg("请填写手工关闭的原因", "Give the reason for closing by hand"))
    if s.exit_at is not None:
        raise Conflict("parking.session_closed", Msg("该车已离场", "The car has already left"))
    before = snapshot(s)
    s.exit_at, s.status = max(at or timezone.now(), s.entry_at), SessionStatus.EXITED
    s.save(update_fields=["exit_at", "status"])
    ParkingEvent.objects.create(lot_id=s.lot_id, region_id=s.region_id, plate=s.plate, direction=Direction.EXIT, allowed=True,
                                reason="closed_by_hand", at=s.exit_at, session_id=s.pk)
    _live(Direction.EXIT, lot_id=s.lot_id, path=s.region.path, free=True, allowed=True)
    record(actor=actor, action="parking.session_close", obj=s, before=before, after=snapshot(s), detail={"note": note[:200]},
           region_path=s.region.path)
    return s

