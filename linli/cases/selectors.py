"""Reads of the case loop. A case is visible to an actor when its region is inside the actor's
case.view scope, when the actor's organisation is responsible for it or co-handles it (and the
actor holds case.view somewhere), when the actor is its assignee, or when the actor reported it.
Everything else is a 404."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from linli.core.errors import NotFound
from linli.core.scoping import scope_q
from linli.orgs.models import Account, Organisation
from linli.places.models import House, Region

from .models import (
    OPEN_STATUSES,
    Case,
    CaseCoHandler,
    CaseEvent,
    CaseRating,
    Category,
    Notification,
    RoutingRule,
)
from .perms import CasePerm
from .services import can_view, nearby_open_cases

_OPEN = [s.value for s in OPEN_STATUSES]
INBOXES = ("mine", "org", "area", "overdue")


def _authenticated(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", False)


def visible_q(actor: Any, perm: str = CasePerm.VIEW) -> Q | None:
    """Q of the cases ``actor`` may see (None = all)."""
    if not _authenticated(actor):
        return Q(pk__in=[])
    paths = actor.scope_paths(perm)
    region = scope_q(Case, paths)
    if region is None:
        return None
    q = region | Q(reporter_account_id=actor.pk)
    if paths:  # holds the permission somewhere: involvement widens the view
        q |= Q(assigned_account_id=actor.pk)
        if actor.organisation_id:
            q |= Q(assigned_org_id=actor.organisation_id)
            q |= Q(Exists(CaseCoHandler.objects.filter(case_id=OuterRef("pk"), organisation_id=actor.organisation_id)))
    return q


def cases_for_actor(actor: Any, perm: str = CasePerm.VIEW) -> QuerySet[Case]:
    q = visible_q(actor, perm)
    qs = Case.objects.all()
    return qs if q is None else qs.filter(q)


def _list_related(qs: QuerySet[Case]) -> QuerySet[Case]:
    return qs.select_related("category", "region", "assigned_org", "assigned_account")


def case_list(
    *,
    actor: Any,
    status: str | None = None,
    category_id: int | None = None,
    region_id: int | None = None,
    overdue: bool | None = None,
    assigned: str | None = None,
    channel: str | None = None,
    q: str | None = None,
) -> QuerySet[Case]:
    """Filters: status, category (with its sub-categories), region subtree, overdue, assigned
    (``me`` | ``org`` | ``none``), channel, free text in number/title."""
    qs = _list_related(cases_for_actor(actor))
    if status:
        qs = qs.filter(status__in=[s for s in status.split(",") if s])
    if category_id is not None:
        ids = [category_id, *Category.objects.filter(parent_id=category_id).values_list("id", flat=True)]
        qs = qs.filter(category_id__in=ids)
    if region_id is not None:
        path = Region.objects.filter(pk=region_id).values_list("path", flat=True).first()
        qs = qs.filter(region__path__startswith=path) if path else qs.none()
    if overdue is not None:
        late = Q(status__in=_OPEN, due_at__lt=timezone.now())
        qs = qs.filter(late) if overdue else qs.exclude(late)
    if assigned == "me":
        qs = qs.filter(assigned_account_id=actor.pk)
    elif assigned == "org":
        qs = qs.filter(assigned_org_id=actor.organisation_id) if actor.organisation_id else qs.none()
    elif assigned == "none":
        qs = qs.filter(assigned_org__isnull=True)
    if channel:
        qs = qs.filter(channel=channel)
    if q:
        qs = qs.filter(Q(number=q.strip().upper()) | Q(title__icontains=q.strip()))
    return qs


def case_inbox(*, actor: Any, box: str) -> QuerySet[Case]:
    """Work lists per role: ``mine`` (assigned to me), ``org`` (my organisation, incl. co-handling),
    ``area`` (open cases in my case.view regions), ``overdue`` (open and past due, all I can see)."""
    qs = _list_related(cases_for_actor(actor)).filter(status__in=_OPEN + ["resolved", "verified"])
    if box == "mine":
        return qs.filter(assigned_account_id=actor.pk)
    if box == "org":
        if not actor.organisation_id:
            return qs.none()
        co = Exists(CaseCoHandler.objects.filter(case_id=OuterRef("pk"), organisation_id=actor.organisation_id))
        return qs.filter(Q(assigned_org_id=actor.organisation_id) | Q(co))
    if box == "area":
        region = scope_q(Case, actor.scope_paths(CasePerm.VIEW))
        return qs if region is None else qs.filter(region)
    if box == "overdue":
        return qs.filter(status__in=_OPEN, due_at__lt=timezone.now())
    raise NotFound("case.inbox_not_found")


def case_get(*, actor: Any, case_id: int) -> Case:
    case = _list_related(Case.objects.filter(pk=case_id)).select_related("house", "merged_into").first()
    if case is None or not can_view(actor, case):
        raise NotFound("case.not_found")
    return case


def case_get_by_number(*, actor: Any, number: str) -> Case:
    pk = Case.objects.filter(number=number).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFound("case.not_found")
    return case_get(actor=actor, case_id=pk)


def case_get_by_external_ref(*, actor: Any, channel: str, external_ref: str) -> Case:
    pk = Case.objects.filter(channel=channel, external_ref=external_ref[:64]).values_list("pk", flat=True).first() if external_ref else None
    if pk is None:
        raise NotFound("case.not_found")
    return case_get(actor=actor, case_id=pk)


def case_status_notes(*, case_ids: list[int]) -> dict[int, str]:
    """Per case, the latest non-empty note of an event in its current state (one query)."""
    last = CaseEvent.objects.filter(case_id=OuterRef("pk"), to_status=OuterRef("status")).exclude(note="").order_by("-seq")
    rows = Case.objects.filter(pk__in=case_ids).annotate(note=Subquery(last.values("note")[:1])).values_list("pk", "note")
    return {pk: note or "" for pk, note in rows}


def case_timeline(*, case: Case) -> list[CaseEvent]:
    """The case's events in order (the caller has checked visibility with case_get)."""
    return list(CaseEvent.objects.filter(case=case).select_related("actor", "organisation").order_by("seq"))


def case_co_handlers(*, case: Case) -> list[CaseCoHandler]:
    return list(CaseCoHandler.objects.filter(case=case).select_related("organisation").order_by("id"))


def case_duplicates(*, actor: Any, case: Case, radius_m: float | None = None, hours: float | None = None) -> list[tuple[Case, float]]:
    """Open cases of the same category near ``case`` (C1), limited to those ``actor`` may see."""
    if case.lat is None or case.lng is None:
        return []
    return nearby_open_cases(category_id=case.category_id, lat=case.lat, lng=case.lng, at=case.created_at,
                             exclude_id=case.pk, radius_m=radius_m, hours=hours, visible=visible_q(actor))


def duplicates_near(*, actor: Any, category_id: int, lat: float | None, lng: float | None, at: dt.datetime | None = None) -> list[tuple[Case, float]]:
    """Open cases of the category near a point that ``actor`` may see, nearest first — the "same
    problem?" offer before a report is filed (C1; portal, console, hotline and patrol forms)."""
    if lat is None or lng is None:
        return []
    return nearby_open_cases(category_id=category_id, lat=lat, lng=lng, at=at or timezone.now(), visible=visible_q(actor))


def category_list(*, include_inactive: bool = False) -> QuerySet[Category]:
    qs = Category.objects.all()
    return qs if include_inactive else qs.filter(is_active=True)


def category_get(*, category_id: int) -> Category:
    """An active category, from the in-process configuration (no query of its own at intake)."""
    from . import config

    obj = config.snapshot().categories.get(category_id)
    if obj is None or not obj.is_active:
        raise NotFound("case.category_not_found")
    return copy.copy(obj)  # the snapshot's instance is shared by every thread: never hand it out


def check_calendar_view(actor: Any) -> None:
    from linli.orgs.perms import check_perm_anywhere

    check_perm_anywhere(actor, CasePerm.VIEW)


def calendar_year(*, year: int) -> dict[str, Any]:
    """A year's calendar: stored days and whether they are the confirmed official schedule."""
    from .models import CalendarYear, HolidayDay

    if not 2000 <= year <= 2100:
        raise NotFound("calendar.year_not_found")
    meta = CalendarYear.objects.filter(year=year).first()
    days = list(HolidayDay.objects.filter(date__year=year).order_by("date"))
    return {"year": year, "confirmed": bool(meta and meta.confirmed), "source": meta.source if meta else "", "days": days}


def routing_rule_list(*, actor: Any, region_id: int | None = None, category_id: int | None = None) -> QuerySet[RoutingRule]:
    qs = RoutingRule.objects.for_actor(actor, CasePerm.CONFIG).select_related("region", "category", "organisation")
    if region_id is not None:
        qs = qs.filter(region_id=region_id)
    if category_id is not None:
        qs = qs.filter(category_id=category_id)
    return qs


def routing_rule_get(*, actor: Any, rule_id: int) -> RoutingRule:
    obj = routing_rule_list(actor=actor).filter(pk=rule_id).first()
    if obj is None:
        raise NotFound("case.routing_rule_not_found")
    return obj


def notification_list(*, actor: Any, unread: bool | None = None) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient_id=actor.pk).select_related("case")
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    return qs


# ---- references named in requests (existence only: the services check scope and role) ------------


def ref_organisation(org_id: int | None) -> Organisation | None:
    """Dispatch targets are a public directory: any active organisation may be chosen."""
    if org_id is None:
        return None
    obj = Organisation.objects.filter(pk=org_id, is_active=True).first()
    if obj is None:
        raise NotFound("org.not_found")
    return obj


def ref_account(account_id: int | None) -> Account | None:
    if account_id is None:
        return None
    obj = Account.objects.filter(pk=account_id, is_active=True).first()
    if obj is None:
        raise NotFound("account.not_found")
    return obj


def ref_house(house_id: int | None) -> House | None:
    if house_id is None:
        return None
    obj = House.objects.select_related("region").filter(pk=house_id).first()
    if obj is None:
        raise NotFound("place.house_not_found")
    return obj


def ref_region(region_id: int | None) -> Region | None:
    if region_id is None:
        return None
    obj = Region.objects.filter(pk=region_id, is_active=True).first()
    if obj is None:
        raise NotFound("place.region_not_found")
    return obj


def ref_person(actor: Any, person_id: int | None) -> Any:
    """A reporter picked by a hotline agent must be inside the agent's person.view scope."""
    if person_id is None:
        return None
    from linli.people.models import Person

    obj = Person.objects.for_actor(actor, "person.view").filter(pk=person_id).first()
    if obj is None:
        raise NotFound("person.not_found")
    return obj


def ref_case(actor: Any, case_id: int) -> Case:
    return case_get(actor=actor, case_id=case_id)


# ---- league tables (C4) ------------------------------------------------------------------------------------

LEAGUE_BY = ("org", "grid")


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first instant, first instant of next month) of ``month`` in the case time zone."""
    from .calendar import local_tz

    tz = local_tz()
    start = dt.datetime(month.year, month.month, 1, tzinfo=tz)
    nxt = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=tz)
    return start, nxt


def league_table(*, actor: Any, month: dt.date, by: str = "org", org_type: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Per responsible organisation (``by="org"``, optionally one type: department, property_company…)
    or per grid (``by="grid"``): cases filed in ``month`` that the actor can see, how many were
    resolved, the on-time rate (resolved before the due time), the reopen rate and the mean
    satisfaction score. Two grouped queries, whatever the number of cases."""
    if by not in LEAGUE_BY:
        raise NotFound("case.league_not_found")
    start, end = month_bounds(month)
    qs = cases_for_actor(actor).filter(created_at__gte=start, created_at__lt=end).exclude(status="merged")
    key = "assigned_org" if by == "org" else "region"
    if by == "org":
        qs = qs.filter(assigned_org__isnull=False)
        if org_type:
            qs = qs.filter(assigned_org__type=org_type)
    resolved_q = Q(resolved_at__isnull=False) | Q(status__in=["verified", "closed"])
    rows = list(
        qs.values(key, f"{key}__name")
        .annotate(
            cases=Count("id"),
            resolved=Count("id", filter=resolved_q),
            on_time=Count("id", filter=Q(resolved_at__isnull=False, resolved_at__lte=F("due_at"))),
            reopened=Count("id", filter=Q(reopen_count__gt=0)),
            finished=Count("id", filter=resolved_q | Q(reopen_count__gt=0)),  # closed at least once
            overdue_open=Count("id", filter=Q(status__in=_OPEN, due_at__lt=timezone.now())),
        )
        .order_by()
    )
    rkey = f"case__{key}"
    ratings = {
        r[rkey]: (r["avg"], r["n"])
        for r in CaseRating.objects.filter(case__in=qs.values("pk")).values(rkey).annotate(avg=Avg("score"), n=Count("id")).order_by()
    }
    out = []
    for r in rows:
        ident = r[key]
        avg, n = ratings.get(ident, (None, 0))
        resolved = r["resolved"]
        out.append({
            "id": ident, "name": r[f"{key}__name"], "cases": r["cases"], "resolved": resolved,
            "on_time": r["on_time"], "on_time_rate": round(r["on_time"] / resolved, 4) if resolved else None,
            "reopened": r["reopened"], "reopen_rate": round(r["reopened"] / r["finished"], 4) if r["finished"] else None,
            "overdue_open": r["overdue_open"], "ratings": n, "satisfaction": round(float(avg), 2) if avg is not None else None,
        })
    out.sort(key=lambda x: (-(x["satisfaction"] or 0), -(x["on_time_rate"] or 0), -x["cases"], x["id"]))
    return out[:limit]


# ---- console and portal pages (issue 4 surfaces) ---------------------------------------------------------


def open_case_points(*, actor: Any, limit: int = 500) -> list[dict[str, Any]]:
    """Open cases ``actor`` may see, newest first, each at its reported point or — reported at a
    house or a grid without one — at its grid's centre (``approx``): the map of open cases."""
    from django.db.models.functions import Coalesce

    rows = (
        cases_for_actor(actor).filter(status__in=_OPEN)
        .filter(Q(lat__isnull=False, lng__isnull=False) | Q(region__centroid_lat__isnull=False, region__centroid_lng__isnull=False))
        .order_by("-id")
        .annotate(at_lat=Coalesce("lat", "region__centroid_lat"), at_lng=Coalesce("lng", "region__centroid_lng"))
        .values("id", "number", "title", "status", "at_lat", "at_lng", "lat", "due_at")[:limit]
    )
    return [{**r, "approx": r["lat"] is None} for r in rows]


def case_area_boundaries(*, actor: Any, limit: int = 300) -> dict[str, Any]:
    """GeoJSON of the grids inside the actor's case.view scope (the map's background)."""
    from linli.places import geojson

    q = scope_q(Region, actor.scope_paths(CasePerm.VIEW), field="")
    qs = Region.objects.filter(level="grid", is_active=True, boundary__isnull=False)
    if q is not None:
        qs = qs.filter(q)
    return geojson.feature_collection(
        qs.only("id", "path", "depth", "code", "name", "level", "boundary", "centroid_lat", "centroid_lng", "area_km2").order_by("path")[:limit]
    )


def organisation_choices(*, limit: int = 300) -> list[Organisation]:
    """Dispatch, transfer and co-handling targets: the directory of active organisations."""
    return list(Organisation.objects.filter(is_active=True).only("id", "name", "type").order_by("type", "name", "id")[:limit])


def handler_choices(*, case: Case, limit: int = 50) -> list[Account]:
    """People a case may be given to: its grid worker, its current handler and the staff of its
    responsible organisation."""
    from .routing import grid_worker_for

    ids = {case.assigned_account_id}
    worker = grid_worker_for(case.region)
    if worker is not None:
        ids.add(worker.pk)
    q = Q(pk__in=[i for i in ids if i])
    if case.assigned_org_id:
        q |= Q(organisation_id=case.assigned_org_id, kind="staff")
    return list(Account.objects.filter(q, is_active=True).order_by("id")[:limit])


def my_reported_cases(*, actor: Any) -> QuerySet[Case]:
    """The cases a resident reported themselves (the portal's "my cases")."""
    if not _authenticated(actor):
        return Case.objects.none()
    return Case.objects.filter(reporter_account_id=actor.pk).select_related("category")


def case_rated(*, case: Case) -> bool:
    """Whether the current round (after the last reopening) has been rated."""
    return CaseRating.objects.filter(case=case, round=case.reopen_count).exists()


def intake_regions(*, actor: Any, limit: int = 300) -> list[Region]:
    """Communities and grids a staff member may file cases in (case.intake scope), for picking a
    place when the caller cannot give a point."""
    q = scope_q(Region, actor.scope_paths(CasePerm.INTAKE), field="")
    qs = Region.objects.filter(level__in=["community", "grid"], is_active=True)
    if q is not None:
        qs = qs.filter(q)
    return list(qs.only("id", "name", "level", "path").order_by("path")[:limit])
