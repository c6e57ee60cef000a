"""Reads for parking (K1–K5), scoped with ``for_actor``; out of scope ⇒ 404."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncHour

from linli.core.errors import NotFound

from . import plates
from .billing import CST
from .models import (
    BillingRule,
    GuidanceDisplay,
    ParkingAlarm,
    ParkingEvent,
    ParkingLot,
    ParkingPass,
    ParkingSession,
    PlateFlag,
    Space,
    Vehicle,
    Zone,
)
from .perms import ParkingPerm as P

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _get(qs: QuerySet, pk: int, code: str) -> Any:
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotFound(code)
    return obj


def rule_list(*, actor: Any) -> QuerySet[BillingRule]:
    return BillingRule.objects.for_actor(actor, P.VIEW)


def rule_get(*, actor: Any, rule_id: int) -> BillingRule:
    return _get(rule_list(actor=actor), rule_id, "parking.rule_not_found")


def lot_list(*, actor: Any, estate_id: int | None = None) -> QuerySet[ParkingLot]:
    qs = ParkingLot.objects.for_actor(actor, P.VIEW)
    return qs.filter(estate_id=estate_id) if estate_id is not None else qs


def lot_get(*, actor: Any, lot_id: int, perm: str = P.VIEW) -> ParkingLot:
    return _get(ParkingLot.objects.for_actor(actor, perm).select_related("region"), lot_id, "parking.lot_not_found")


def zone_list(*, actor: Any, lot_id: int | None = None) -> QuerySet[Zone]:
    qs = Zone.objects.for_actor(actor, P.VIEW)
    return qs.filter(lot_id=lot_id) if lot_id is not None else qs


def zone_get(*, actor: Any, zone_id: int) -> Zone:
    return _get(zone_list(actor=actor), zone_id, "parking.zone_not_found")


def space_list(*, actor: Any, lot_id: int | None = None, zone_id: int | None = None, kind: str | None = None) -> QuerySet[Space]:
    qs = Space.objects.for_actor(actor, P.VIEW)
    if lot_id is not None:
        qs = qs.filter(lot_id=lot_id)
    if zone_id is not None:
        qs = qs.filter(zone_id=zone_id)
    return qs.filter(kind=kind) if kind else qs


def space_get(*, actor: Any, space_id: int) -> Space:
    return _get(space_list(actor=actor), space_id, "parking.space_not_found")


def vehicle_list(*, actor: Any, owner_id: int | None = None, plate: str | None = None) -> QuerySet[Vehicle]:
    qs = Vehicle.objects.for_actor(actor, P.VIEW)
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    return qs.filter(plate__startswith=plates.normalise(plate)) if plate else qs


def my_vehicles(actor: Any) -> QuerySet[Vehicle]:
    pid = getattr(actor, "person_id", None)
    return Vehicle.objects.filter(owner_id=pid) if pid else Vehicle.objects.none()


def pass_list(*, actor: Any, lot_id: int | None = None, person_id: int | None = None, status: str | None = None) -> QuerySet[ParkingPass]:
    qs = ParkingPass.objects.for_actor(actor, P.VIEW)
    if lot_id is not None:
        qs = qs.filter(lot_id=lot_id)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    return qs.filter(status=status) if status else qs


def pass_get(*, actor: Any, pass_id: int) -> ParkingPass:
    return _get(pass_list(actor=actor).select_related("lot"), pass_id, "parking.pass_not_found")


def flag_list(*, actor: Any, active: bool | None = True) -> QuerySet[PlateFlag]:
    qs = PlateFlag.objects.for_actor(actor, P.FLAG)
    return qs.filter(is_active=active) if active is not None else qs


def flag_get(*, actor: Any, flag_id: int) -> PlateFlag:
    return _get(flag_list(actor=actor, active=None), flag_id, "parking.flag_not_found")


def alarm_list(*, actor: Any, open_only: bool = False, lot_id: int | None = None) -> QuerySet[ParkingAlarm]:
    qs = ParkingAlarm.objects.for_actor(actor, P.FLAG)
    if lot_id is not None:
        qs = qs.filter(lot_id=lot_id)
    return qs.filter(acknowledged_at__isnull=True) if open_only else qs


def alarm_get(*, actor: Any, alarm_id: int) -> ParkingAlarm:
    return _get(alarm_list(actor=actor), alarm_id, "parking.alarm_not_found")


def session_list(*, actor: Any, lot_id: int | None = None, plate: str | None = None, status: str | None = None,
                 inside: bool | None = None) -> QuerySet[ParkingSession]:
    qs = ParkingSession.objects.for_actor(actor, P.VIEW)
    if lot_id is not None:
        qs = qs.filter(lot_id=lot_id)
    if plate:
        qs = qs.filter(plate=plates.normalise(plate))
    if status:
        qs = qs.filter(status=status)
    if inside is not None:
        qs = qs.filter(exit_at__isnull=inside)
    return qs


def session_get(*, actor: Any, session_id: int) -> ParkingSession:
    return _get(session_list(actor=actor), session_id, "parking.session_not_found")


def open_session_for_payer(*, actor: Any, lot_id: int, plate: str) -> ParkingSession:
    """The open session a resident may pay for: their own car's, or a visitor they host."""
    pid = getattr(actor, "person_id", None)
    p = plates.normalise(plate)
    s = ParkingSession.objects.filter(lot_id=lot_id, plate=p, exit_at__isnull=True).first()
    if s is None or pid is None or not (s.host_person_id == pid or Vehicle.objects.filter(plate=p, owner_id=pid).exists()):
        raise NotFound("parking.session_not_found")
    return s


# ---- K3 statistics, K4 guidance, K5 find my car ------------------------------------------------------


def stats_per_hour(*, actor: Any, lot: ParkingLot, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Entries, exits and occupancy at the end of each local (Asia/Shanghai) hour: three aggregate queries.
    The database truncates with the zone name (SQLite and PostgreSQL both need one); hours are then
    keyed by instant, so the fixed +08:00 rendering is exact (no DST in China since 1991)."""
    base = ParkingSession.objects.filter(lot_id=lot.pk).order_by()
    entries = dict(base.filter(entry_at__gte=since, entry_at__lt=until).annotate(h=TruncHour("entry_at", tzinfo=SHANGHAI))
                   .values("h").annotate(n=Count("id")).values_list("h", "n"))
    exits = dict(base.filter(exit_at__gte=since, exit_at__lt=until).annotate(h=TruncHour("exit_at", tzinfo=SHANGHAI))
                 .values("h").annotate(n=Count("id")).values_list("h", "n"))
    inside = base.filter(entry_at__lt=since).filter(Q(exit_at__isnull=True) | Q(exit_at__gte=since)).count()
    out: list[dict[str, Any]] = []
    entries = {k.astimezone(CST): v for k, v in entries.items()}
    exits = {k.astimezone(CST): v for k, v in exits.items()}
    for hour in _hours(since, until):
        e, x = entries.get(hour, 0), exits.get(hour, 0)
        inside += e - x
        out.append({"hour": hour, "entries": e, "exits": x, "occupied": inside, "free": max(0, lot.capacity - inside)})
    return out


def _hours(since: dt.datetime, until: dt.datetime, most: int = 24 * 93) -> list[dt.datetime]:
    """The local (Asia/Shanghai) hours from the one holding ``since`` up to ``until``."""
    out, hour = [], since.astimezone(CST).replace(minute=0, second=0, microsecond=0)
    while hour < until and len(out) < most:
        out.append(hour)
        hour += dt.timedelta(hours=1)
    return out


def free_spaces(*, lot: ParkingLot) -> list[dict[str, Any]]:
    """Per zone, in real time: general bays free (capacity − cars inside not on a fixed bay) and fixed bays
    occupied, from the open sessions and the space table (two aggregate queries)."""
    fixed = Q(space__kind__in=["owned", "rented"])
    zones = list(Zone.objects.filter(lot_id=lot.pk).order_by("code").annotate(
        fixed_total=Count("spaces", filter=Q(spaces__kind__in=["owned", "rented"]), distinct=True)).values(
        "id", "code", "name", "capacity", "fixed_total"))
    occ = {r["zone_id"]: r for r in ParkingSession.objects.filter(lot_id=lot.pk, exit_at__isnull=True, zone__isnull=False).order_by()
           .values("zone_id").annotate(general=Count("id", filter=~fixed | Q(space__isnull=True)), fixed=Count("id", filter=fixed))}
    out = []
    for z in zones:
        o = occ.get(z["id"], {"general": 0, "fixed": 0})
        out.append({"zone_id": z["id"], "code": z["code"], "name": z["name"], "capacity": z["capacity"], "occupied": o["general"],
                    "free": max(0, z["capacity"] - o["general"]), "fixed_total": z["fixed_total"], "fixed_occupied": o["fixed"]})
    return out


def lot_free(*, lot: ParkingLot) -> int:
    return max(0, lot.capacity - ParkingSession.objects.filter(lot_id=lot.pk, exit_at__isnull=True).count())


def find_car(*, actor: Any, plate: str) -> ParkingSession:
    """K5: where is this car? Residents only for their own vehicles; staff for plates in their scope."""
    p = plates.normalise(plate)
    qs = ParkingSession.objects.filter(plate=p, exit_at__isnull=True).select_related("lot", "zone", "space")
    pid = getattr(actor, "person_id", None)
    if not (pid is not None and Vehicle.objects.filter(plate=p, owner_id=pid).exists()):
        qs = qs.filter(pk__in=ParkingSession.objects.for_actor(actor, P.VIEW).filter(plate=p, exit_at__isnull=True).values("pk"))
    s = qs.order_by("-entry_at").first()
    if s is None:
        raise NotFound("parking.car_not_found")
    return s


# ---- decision log (K3), live feed, guidance displays (K4) ---------------------------------------------


def event_list(*, actor: Any, lot_id: int | None = None, plate: str | None = None, direction: str | None = None,
               allowed: bool | None = None) -> QuerySet[ParkingEvent]:
    qs = ParkingEvent.objects.for_actor(actor, P.VIEW)
    if lot_id is not None:
        qs = qs.filter(lot_id=lot_id)
    if plate:
        qs = qs.filter(plate=plates.normalise(plate))
    if direction:
        qs = qs.filter(direction=direction)
    return qs.filter(allowed=allowed) if allowed is not None else qs


def event_stats_per_hour(*, lot: ParkingLot, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Per local hour, from the decision log: entries and exits allowed and denied (one aggregate query)."""
    rows = (ParkingEvent.objects.filter(lot_id=lot.pk, at__gte=since, at__lt=until).order_by()
            .annotate(h=TruncHour("at", tzinfo=SHANGHAI)).values("h", "direction", "allowed").annotate(n=Count("id"))
            .values_list("h", "direction", "allowed", "n"))
    counts: dict[tuple[dt.datetime, str, bool], int] = {(h.astimezone(CST), d, a): n for h, d, a, n in rows}
    return [{"hour": h, "entries": counts.get((h, "entry", True), 0), "entries_denied": counts.get((h, "entry", False), 0),
             "exits": counts.get((h, "exit", True), 0), "exits_denied": counts.get((h, "exit", False), 0)} for h in _hours(since, until)]


def live_feed(*, actor: Any, lot: ParkingLot, limit: int = 30) -> list[dict[str, Any]]:
    """The lot's latest decisions and (for holders of parking.flag) alarms, newest first (two queries)."""
    events = list(ParkingEvent.objects.filter(lot_id=lot.pk).order_by("-id").values(
        "id", "plate", "direction", "allowed", "reason", "at", "amount_due_fen", "session_id")[:limit])
    out = [{"type": "event", **e} for e in events]
    if actor_covers(actor, P.FLAG, lot):
        for a in ParkingAlarm.objects.filter(lot_id=lot.pk).order_by("-id").values("id", "plate", "kind", "allowed", "message", "created_at",
                                                                                 "acknowledged_at")[:limit]:
            out.append({"type": "alarm", "at": a["created_at"], **a})
    out.sort(key=lambda r: r["at"], reverse=True)
    return out[:limit]


def actor_covers(actor: Any, perm: str, lot: ParkingLot) -> bool:
    from linli.orgs.perms import covers

    return covers(actor, perm, lot.region.path)


def display_list(*, actor: Any, lot_id: int) -> QuerySet[GuidanceDisplay]:
    return GuidanceDisplay.objects.for_actor(actor, P.VIEW).filter(lot_id=lot_id)


def display_get(*, actor: Any, display_id: int) -> GuidanceDisplay:
    return _get(GuidanceDisplay.objects.for_actor(actor, P.VIEW).select_related("lot"), display_id, "parking.display_not_found")


def display_by_token(raw: str) -> GuidanceDisplay:
    """The wall display behind a token URL; unknown, revoked or of an inactive lot ⇒ 404."""
    from linli.orgs.models import hash_token

    if not raw or len(raw) > 100:
        raise NotFound("parking.display_not_found")
    d = (GuidanceDisplay.objects.select_related("lot").filter(token_hash=hash_token(raw), revoked_at__isnull=True, lot__is_active=True)
         .first())
    if d is None:
        raise NotFound("parking.display_not_found")
    return d


def guidance(*, lot: ParkingLot) -> dict[str, Any]:
    """K4: what a guidance screen shows (three aggregate queries)."""
    return {"lot_id": lot.pk, "capacity": lot.capacity, "free": lot_free(lot=lot), "zones": free_spaces(lot=lot)}


# ---- the resident's side (portal) ---------------------------------------------------------------------


def my_open_sessions(actor: Any) -> QuerySet[ParkingSession]:
    """Stays a resident may see and pay: their own cars inside any lot, and visitors they host."""
    pid = getattr(actor, "person_id", None)
    if pid is None:
        return ParkingSession.objects.none()
    mine = Vehicle.objects.filter(owner_id=pid).values("plate")
    return (ParkingSession.objects.filter(exit_at__isnull=True).filter(Q(plate__in=mine) | Q(host_person_id=pid))
            .select_related("lot", "zone", "space").order_by("-entry_at"))


def my_passes(actor: Any) -> QuerySet[ParkingPass]:
    pid = getattr(actor, "person_id", None)
    if pid is None:
        return ParkingPass.objects.none()
    return ParkingPass.objects.filter(person_id=pid).select_related("lot", "space").order_by("-valid_until")


def my_hosted_recent(actor: Any, limit: int = 10) -> list[ParkingSession]:
    """Visitors' stays billed to this resident (the host pays when the rules say so)."""
    pid = getattr(actor, "person_id", None)
    if pid is None:
        return []
    return list(ParkingSession.objects.filter(host_person_id=pid, exit_at__isnull=False).select_related("lot").order_by("-exit_at")[:limit])


def payable_session(*, actor: Any, session_id: int) -> ParkingSession:
    s = ParkingSession.objects.filter(pk=session_id, exit_at__isnull=True).values_list("lot_id", "plate").first()
    if s is None:
        raise NotFound("parking.session_not_found")
    return open_session_for_payer(actor=actor, lot_id=s[0], plate=s[1])
