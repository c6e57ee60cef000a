"""Reads for access control (A1–A5), scoped with ``for_actor``; out of scope ⇒ 404."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncHour

from linli.core.errors import NotFound
from linli.people.models import Person

from . import decision
from .models import (
    AccessAlarm,
    AccessBlock,
    AccessEvent,
    AccessHoliday,
    AccessRule,
    Credential,
    Gate,
    GateGroup,
    VisitorInvite,
    WatchListEntry,
)
from .perms import AccessPerm as P


def _get(qs: QuerySet, pk: int, code: str = "not_found") -> Any:
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotFound(code)
    return obj


# ---- references for the API (objects the services then check again) -----------------------------


def ref(model: type, pk: int | None) -> Any:
    if pk is None:
        return None
    related = {"Estate": ["region"], "Building": ["region", "estate"], "Unit": ["building__region"], "House": ["region", "building"],
               "Person": ["region"], "Region": []}.get(model.__name__, [])
    obj = model.objects.select_related(*related).filter(pk=pk).first() if related else model.objects.filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj



# ---- structure ---------------------------------------------------------------------------------------


def group_list(*, actor: Any, estate_id: int | None = None, level: str | None = None) -> QuerySet[GateGroup]:
    qs = GateGroup.objects.for_actor(actor, P.VIEW).select_related("estate", "building", "unit")
    if estate_id is not None:
        qs = qs.filter(estate_id=estate_id)
    if level:
        qs = qs.filter(level=level)
    return qs


def group_get(*, actor: Any, group_id: int) -> GateGroup:
    return _get(GateGroup.objects.for_actor(actor, P.VIEW).select_related("region", "estate", "building", "unit"), group_id,
                "access.group_not_found")


def gate_list(*, actor: Any, group_id: int | None = None, q: str | None = None) -> QuerySet[Gate]:
    qs = Gate.objects.for_actor(actor, P.VIEW).select_related("group")
    if group_id is not None:
        qs = qs.filter(group_id=group_id)
    if q:
        qs = qs.filter(Q(code__startswith=q) | Q(name__icontains=q))
    return qs


def gate_get(*, actor: Any, gate_id: int) -> Gate:
    return _get(Gate.objects.for_actor(actor, P.VIEW).select_related("region", "group"), gate_id, "access.gate_not_found")


def rule_list(*, actor: Any, group_id: int | None = None) -> QuerySet[AccessRule]:
    qs = AccessRule.objects.for_actor(actor, P.VIEW).select_related("role")
    return qs.filter(group_id=group_id) if group_id is not None else qs


def rule_get(*, actor: Any, rule_id: int) -> AccessRule:
    return _get(AccessRule.objects.for_actor(actor, P.VIEW).select_related("group__region"), rule_id)


def holiday_list(*, actor: Any) -> QuerySet[AccessHoliday]:
    return AccessHoliday.objects.for_actor(actor, P.VIEW)


def holiday_get(*, actor: Any, holiday_id: int) -> AccessHoliday:
    return _get(AccessHoliday.objects.for_actor(actor, P.VIEW).select_related("region"), holiday_id)


def block_list(*, actor: Any, person_id: int | None = None, active: bool | None = None) -> QuerySet[AccessBlock]:
    qs = AccessBlock.objects.for_actor(actor, P.VIEW)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    if active is not None:
        qs = qs.filter(lifted_at__isnull=active)
    return qs


def block_get(*, actor: Any, block_id: int) -> AccessBlock:
    return _get(AccessBlock.objects.for_actor(actor, P.VIEW).select_related("region"), block_id)


# ---- credentials -------------------------------------------------------------------------------------


def credential_list(*, actor: Any, person_id: int | None = None, kind: str | None = None, status: str | None = None) -> QuerySet[Credential]:
    qs = Credential.objects.for_actor(actor, P.VIEW).select_related("person")
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def credential_get(*, actor: Any, credential_id: int) -> Credential:
    return _get(Credential.objects.for_actor(actor, P.VIEW).select_related("person", "region"), credential_id, "access.credential_not_found")


def my_credentials(account: Any) -> QuerySet[Credential]:
    if not getattr(account, "is_active", False) or getattr(account, "person_id", None) is None:
        return Credential.objects.none()
    return Credential.objects.filter(person_id=account.person_id).select_related("person")


def my_credential(account: Any, credential_id: int) -> Credential:
    return _get(my_credentials(account).select_related("region", "person__region"), credential_id, "access.credential_not_found")


# ---- visitors, watch list, alarms --------------------------------------------------------------------


def visitor_list(*, actor: Any, status: str | None = None, house_id: int | None = None) -> QuerySet[VisitorInvite]:
    qs = VisitorInvite.objects.for_actor(actor, P.VIEW)
    if status:
        qs = qs.filter(status=status)
    if house_id is not None:
        qs = qs.filter(house_id=house_id)
    return qs


def visitor_get(*, actor: Any, invite_id: int) -> VisitorInvite:
    return _get(VisitorInvite.objects.for_actor(actor, P.VIEW).select_related("region", "house__building"), invite_id, "access.invite_not_found")


def my_invites(account: Any) -> QuerySet[VisitorInvite]:
    """Visits to the houses the account's person currently lives in."""
    from linli.people.models import Residency

    if not getattr(account, "is_active", False) or getattr(account, "person_id", None) is None:
        return VisitorInvite.objects.none()
    houses = Residency.objects.filter(person_id=account.person_id, move_out__isnull=True).values("house_id")
    return VisitorInvite.objects.filter(house_id__in=houses)


def my_invite(account: Any, invite_id: int) -> VisitorInvite:
    return _get(my_invites(account).select_related("region", "house__building"), invite_id, "access.invite_not_found")


def watch_list(*, actor: Any, kind: str | None = None, active: bool | None = True) -> QuerySet[WatchListEntry]:
    qs = WatchListEntry.objects.for_actor(actor, P.WATCH_LIST)
    if kind:
        qs = qs.filter(kind=kind)
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs


def watch_get(*, actor: Any, entry_id: int) -> WatchListEntry:
    return _get(WatchListEntry.objects.for_actor(actor, P.WATCH_LIST).select_related("region"), entry_id)


def alarm_list(*, actor: Any, open_only: bool = False) -> QuerySet[AccessAlarm]:
    qs = AccessAlarm.objects.for_actor(actor, P.WATCH_LIST).select_related("gate")
    return qs.filter(acknowledged_at__isnull=True) if open_only else qs


def alarm_get(*, actor: Any, alarm_id: int) -> AccessAlarm:
    return _get(AccessAlarm.objects.for_actor(actor, P.WATCH_LIST).select_related("region"), alarm_id)


# ---- the log (A5) ------------------------------------------------------------------------------------


def event_list(*, actor: Any, gate_id: int | None = None, person_id: int | None = None, result: str | None = None,
               since: dt.datetime | None = None, until: dt.datetime | None = None) -> QuerySet[AccessEvent]:
    qs = AccessEvent.objects.for_actor(actor, P.LOG_VIEW).select_related("gate")
    if gate_id is not None:
        qs = qs.filter(gate_id=gate_id)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    if result:
        qs = qs.filter(result=result)
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    return qs


def stats_per_gate_hour(*, actor: Any, since: dt.datetime, until: dt.datetime, gate_id: int | None = None) -> list[dict[str, Any]]:
    """Allowed/denied counts per gate and local (Asia/Shanghai) hour: one aggregate query."""
    qs = event_list(actor=actor, gate_id=gate_id, since=since, until=until).order_by()
    rows = (qs.annotate(hour=TruncHour("at", tzinfo=decision.TZ)).values("gate_id", "gate__code", "hour")
            .annotate(allowed=Count("id", filter=Q(result="allow")), denied=Count("id", filter=Q(result="deny")))
            .order_by("gate_id", "hour"))
    return [{"gate_id": r["gate_id"], "gate_code": r["gate__code"], "hour": r["hour"], "allowed": r["allowed"], "denied": r["denied"]}
            for r in rows[:5000]]


def gate_feed(*, actor: Any, gate_id: int, limit: int = 30) -> list[AccessEvent]:
    """The newest events at one gate (live feed), with the person for masked display: one query."""
    return list(event_list(actor=actor, gate_id=gate_id).select_related("person").order_by("-at", "-id")[:limit])


def person_lookup(*, actor: Any, perm: str, q: str, limit: int = 20) -> list[Person]:
    """Persons in ``perm`` scope by name (contains) or by the last 4 digits of ID number / phone."""
    term = (q or "").strip()[:60]
    if not term:
        return []
    cond = Q(name__contains=term)
    tail = term.upper()
    if len(tail) == 4 and tail[:3].isdigit() and (tail[3].isdigit() or tail[3] == "X"):
        cond |= Q(id_number_tail=tail) | Q(phone_tail=tail)
    return list(Person.objects.for_actor(actor, perm).filter(cond).select_related("region").order_by("id")[:limit])


def last_seen_many(person_ids: list[int]) -> dict[int, dt.datetime]:
    """last_seen for several persons in one aggregate query."""
    if not person_ids:
        return {}
    rows = (AccessEvent.objects.filter(person_id__in=person_ids, result="allow").order_by().values("person_id")
            .annotate(last=Max("at")).values_list("person_id", "last"))
    return dict(rows)


def last_seen(person_id: int) -> dt.datetime | None:
    """When the person last passed a gate (allowed), for elderly-inactivity checks (care). No actor:
    callers are other apps' services/tasks that have already scoped the person."""
    return AccessEvent.objects.filter(person_id=person_id, result="allow").aggregate(last=Max("at"))["last"]


def last_seen_for(*, actor: Any, person_id: int) -> dt.datetime | None:
    if not Person.objects.for_actor(actor, P.LOG_VIEW).filter(pk=person_id).exists():
        raise NotFound("access.person_not_found")
    return last_seen(person_id)


# ---- offline allow-list ------------------------------------------------------------------------------


def _entitled_persons(index: decision.AccessIndex, group: decision.GroupRow, at: dt.datetime) -> dict[int, str]:
    """Residents entitled at ``group`` today and not blocked there: person id → lease end ("" = none)."""
    person_ids: dict[int, str] = {}
    for pid, ents in index.ents.items():
        for e in ents:
            if group.level == "estate":
                match = e.estate_id == group.estate_id
            elif group.level == "building":
                match = e.building_id == group.building_id
            else:
                match = e.unit_id == group.unit_id
            if match and (e.until is None or e.until >= at.astimezone(decision.TZ).date()):
                person_ids[pid] = e.until.isoformat() if e.until else ""
    now = at.timestamp()
    blocked = {pid for pid, blocks in index.person_blocks.items()
               for gid, path, start, end in blocks if (end is None or end > now) and (gid is None or gid == group.id)}
    return {pid: lease for pid, lease in person_ids.items() if pid not in blocked}


def allowlist_entries(*, index: decision.AccessIndex, group: decision.GroupRow, at: dt.datetime) -> list[dict[str, Any]]:
    """Credentials that would be allowed at ``group`` today (ignoring the hour: windows travel with the list)."""
    from .models import Credential as C

    person_ids = _entitled_persons(index, group, at)
    now = at.timestamp()
    out = []
    for cid, kind, tag, vf, vu, pid in (C.objects.filter(person_id__in=list(person_ids), status="active").exclude(offline_tag="")
                                        .order_by("id").values_list("id", "kind", "offline_tag", "valid_from", "valid_until", "person_id")):
        if vu is not None and vu.timestamp() <= now:
            continue
        out.append({"credential_id": cid, "person_id": pid, "kind": kind, "tag": tag, "valid_from": vf.isoformat(),
                    "valid_until": vu.isoformat() if vu else None, "lease_end": person_ids[pid] or None})
    return out


def allowlist_qr_entries(*, index: decision.AccessIndex, group: decision.GroupRow, at: dt.datetime) -> list[dict[str, Any]]:
    """QR entitlements (from the in-memory index, no query) keyed by credential id + person id: an offline
    controller accepts a verified resident QR only when both claims match one row here."""
    person_ids = _entitled_persons(index, group, at)
    now = at.timestamp()
    return [{"credential_id": c.id, "person_id": c.person_id, "lease_end": person_ids[c.person_id] or None,
             "valid_until": dt.datetime.fromtimestamp(c.valid_until, dt.UTC).isoformat() if c.valid_until else None}
            for c in sorted(index.creds_by_id.values(), key=lambda c: c.id)
            if c.kind == "qr" and c.status == "active" and c.person_id in person_ids and c.valid_from <= now
            and (c.valid_until is None or c.valid_until > now)]
