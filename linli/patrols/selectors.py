"""Reads of grid patrols (C6), scoped to the actor.

A route is visible with any patrol permission over its region. A task is visible with patrol.view or
patrol.manage over its region, and to its own worker (holding patrol.perform). Everything else is a
404. The "who patrolled where" reads (tracks, coverage) use the same task scope.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils import timezone

from linli.core.errors import NotFound
from linli.core.scoping import scope_q
from linli.orgs.models import Account, Role, RoleAssignment
from linli.orgs.perms import scope_paths_any
from linli.places.models import Region

from .models import CheckIn, Checkpoint, Finding, PatrolRoute, PatrolTask
from .perms import PatrolPerm

P = PatrolPerm


def _authenticated(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", False)


def _where(qs: QuerySet, **lookups: Any) -> QuerySet:
    """Apply each lookup that has a value (None means "no filter")."""
    given = {k: v for k, v in lookups.items() if v is not None}
    return qs.filter(**given) if given else qs


def _in_region(qs: QuerySet, field: str, region_id: int | None) -> QuerySet:
    """Rows whose ``field`` region lies in the subtree of ``region_id`` (an unknown region: none)."""
    if region_id is None:
        return qs
    path = Region.objects.filter(pk=region_id).values_list("path", flat=True).first()
    return qs.filter(**{f"{field}__path__startswith": path}) if path else qs.none()


# ---- routes --------------------------------------------------------------------------------------------------


def routes_for_actor(actor: Any) -> QuerySet[PatrolRoute]:
    if not _authenticated(actor):
        return PatrolRoute.objects.none()
    q = scope_q(PatrolRoute, scope_paths_any(actor, [P.VIEW, P.PERFORM, P.MANAGE]))
    qs = PatrolRoute.objects.select_related("region")
    return qs if q is None else qs.filter(q)


def route_list(*, actor: Any, region_id: int | None = None, is_active: bool | None = None, q: str | None = None) -> QuerySet[PatrolRoute]:
    qs = routes_for_actor(actor).annotate(checkpoint_count=Count("checkpoints", filter=Q(checkpoints__is_active=True)))
    qs = _where(qs, is_active=is_active, name__icontains=q.strip() if q else None)
    return _in_region(qs, "region", region_id)


def route_get(*, actor: Any, route_id: int) -> PatrolRoute:
    route = routes_for_actor(actor).filter(pk=route_id).prefetch_related(
        Prefetch("checkpoints", queryset=Checkpoint.objects.filter(is_active=True).order_by("seq"), to_attr="active_checkpoints")
    ).first()
    if route is None:
        raise NotFound("patrol.route_not_found")
    return route


def route_ref(*, actor: Any, route_id: int | None) -> PatrolRoute | None:
    return route_get(actor=actor, route_id=route_id) if route_id is not None else None


# ---- tasks ---------------------------------------------------------------------------------------------------


def task_visible_q(actor: Any) -> Q | None:
    if not _authenticated(actor):
        return Q(pk__in=[])
    q = scope_q(PatrolTask, scope_paths_any(actor, [P.VIEW, P.MANAGE]))
    if q is None:
        return None
    if actor.has_scoped_perm(P.PERFORM):
        q |= Q(worker_id=actor.pk)
    return q


def tasks_for_actor(actor: Any) -> QuerySet[PatrolTask]:
    q = task_visible_q(actor)
    qs = PatrolTask.objects.select_related("route", "region", "worker")
    return qs if q is None else qs.filter(q)


def task_list(*, actor: Any, worker_id: int | None = None, date: dt.date | None = None, date_from: dt.date | None = None,
              date_to: dt.date | None = None, status: list[str] | None = None, region_id: int | None = None,
              route_id: int | None = None) -> QuerySet[PatrolTask]:
    qs = _where(tasks_for_actor(actor), worker_id=worker_id, date=date, date__gte=date_from, date__lte=date_to, status__in=status or None,
                route_id=route_id)
    return _in_region(qs, "region", region_id)


def task_get(*, actor: Any, task_id: int) -> PatrolTask:
    task = tasks_for_actor(actor).filter(pk=task_id).first()
    if task is None:
        raise NotFound("patrol.task_not_found")
    return task


def my_tasks(*, actor: Any, day: dt.date | None = None) -> list[PatrolTask]:
    """The worker's tasks of the day, plus earlier ones still in progress (most urgent first)."""
    day = day or timezone.localdate()
    qs = (PatrolTask.objects.filter(worker_id=actor.pk).filter(Q(date=day) | Q(status="in_progress", date__lt=day))
          .select_related("route", "region").order_by("window_start", "id"))
    return list(qs)


def task_checkpoints(*, task: PatrolTask) -> list[dict[str, Any]]:
    """The route's active checkpoints in order, each with this task's first check-in there (if any)."""
    points = list(Checkpoint.objects.filter(route_id=task.route_id, is_active=True).order_by("seq"))
    first: dict[int, CheckIn] = {}
    for c in CheckIn.objects.filter(task=task, checkpoint__isnull=False).order_by("at", "id"):
        first.setdefault(c.checkpoint_id, c)
    return [{"checkpoint": p, "checkin": first.get(p.pk)} for p in points]


def task_checkins(*, task: PatrolTask) -> list[CheckIn]:
    return list(CheckIn.objects.filter(task=task).select_related("checkpoint").order_by("at", "id"))


def task_findings(*, task: PatrolTask) -> list[Finding]:
    return list(Finding.objects.filter(task=task).select_related("case", "checkin").order_by("id"))


def checkin_get(*, task: PatrolTask, checkin_id: int | None) -> CheckIn | None:
    if checkin_id is None:
        return None
    c = CheckIn.objects.filter(task=task, pk=checkin_id).select_related("checkpoint").first()
    if c is None:
        raise NotFound("patrol.checkin_not_found")
    return c


def checkpoint_ref(*, task: PatrolTask, checkpoint_id: int | None) -> Checkpoint | None:
    if checkpoint_id is None:
        return None
    cp = Checkpoint.objects.filter(route_id=task.route_id, pk=checkpoint_id).first()
    if cp is None:
        raise NotFound("patrol.checkpoint_not_found")
    return cp


# ---- check-ins -------------------------------------------------------------------------------------------------


def checkin_list(*, actor: Any, task_id: int | None = None, worker_id: int | None = None, date: dt.date | None = None,
                 region_id: int | None = None, off_route: bool | None = None) -> QuerySet[CheckIn]:
    q = task_visible_q(actor)
    qs = CheckIn.objects.select_related("checkpoint", "task", "task__worker", "task__route")
    if q is not None:
        qs = qs.filter(task__in=PatrolTask.objects.filter(q).values("pk"))
    qs = _where(qs, task_id=task_id, task__worker_id=worker_id, task__date=date, off_route=off_route)
    return _in_region(qs, "task__region", region_id)


def checkin_photo_refs(*, task: PatrolTask) -> set[str]:
    return {p for photos in CheckIn.objects.filter(task=task).values_list("photos", flat=True) for p in photos or ()}


# ---- who patrolled where ------------------------------------------------------------------------------------


def tracks(*, actor: Any, day: dt.date, worker_id: int | None = None, region_id: int | None = None, limit: int = 5000) -> list[dict[str, Any]]:
    """Per worker, the day's check-ins in time order (the path walked) with their tasks."""
    rows = checkin_list(actor=actor, date=day, worker_id=worker_id, region_id=region_id).order_by("task__worker_id", "at", "id")[:limit]
    out: dict[int, dict[str, Any]] = {}
    for c in rows:
        w = c.task.worker
        entry = out.setdefault(w.pk, {"worker": w, "points": [], "tasks": {}})
        entry["tasks"][c.task_id] = c.task
        entry["points"].append(c)
    return list(out.values())


def coverage(*, actor: Any, date_from: dt.date, date_to: dt.date, region_id: int | None = None, worker_id: int | None = None,
             limit: int = 500) -> list[dict[str, Any]]:
    """Per route and day: checkpoints planned, distinct checkpoints reached within their radius by any
    of the day's tasks, coverage %, tasks by status and the workers. Two queries."""
    tasks = task_list(actor=actor, date_from=date_from, date_to=date_to, region_id=region_id, worker_id=worker_id)
    groups = (tasks.values("route_id", "route__name", "region__name", "date")
              .annotate(planned=Max("checkpoint_total"), tasks=Count("id"),
                        done=Count("id", filter=Q(status="done")), missed=Count("id", filter=Q(status="missed")),
                        in_progress=Count("id", filter=Q(status="in_progress")))
              .order_by("-date", "region__name", "route__name")[:limit])
    groups = list(groups)
    if not groups:
        return []
    reached: dict[tuple[int, dt.date], set[int]] = defaultdict(set)
    workers: dict[tuple[int, dt.date], set[str]] = defaultdict(set)
    visits = (CheckIn.objects.filter(task__in=tasks.values("pk"), checkpoint__isnull=False, off_route=False)
              .values_list("task__route_id", "task__date", "checkpoint_id").distinct())
    for route_id, day, cp in visits:
        reached[(route_id, day)].add(cp)
    for route_id, day, name, username in tasks.values_list("route_id", "date", "worker__display_name", "worker__username"):
        workers[(route_id, day)].add(name or username)
    out = []
    for g in groups:
        key = (g["route_id"], g["date"])
        n = min(len(reached[key]), g["planned"]) if g["planned"] else 0
        out.append({"route_id": g["route_id"], "route_name": g["route__name"], "region_name": g["region__name"], "date": g["date"],
                    "planned": g["planned"], "reached": n, "coverage": round(100 * n / g["planned"]) if g["planned"] else None,
                    "tasks": g["tasks"], "done": g["done"], "missed": g["missed"], "in_progress": g["in_progress"],
                    "workers": sorted(workers[key])})
    return out


def day_checkpoints(*, actor: Any, day: dt.date, worker_id: int | None = None, limit: int = 2000) -> list[dict[str, Any]]:
    """The active checkpoints of the routes patrolled on ``day`` (in scope), each marked reached when
    any of the day's tasks checked in there within its radius."""
    tasks = task_list(actor=actor, date=day, worker_id=worker_id)
    reached = set(CheckIn.objects.filter(task__in=tasks.values("pk"), checkpoint__isnull=False, off_route=False)
                  .values_list("checkpoint_id", flat=True))
    points = Checkpoint.objects.filter(route_id__in=tasks.values("route_id"), is_active=True).select_related("route").order_by("route_id", "seq")
    return [{"route": c.route.name, "seq": c.seq, "name": c.name, "lat": c.lat, "lng": c.lng, "radius": c.tolerance_m, "reached": c.pk in reached}
            for c in points[:limit]]


def grid_boundaries(*, actor: Any, limit: int = 300) -> dict[str, Any]:
    """GeoJSON of the grids in the actor's patrol scope (the background of the patrol maps)."""
    from linli.places import geojson

    q = scope_q(Region, scope_paths_any(actor, [P.VIEW, P.MANAGE, P.PERFORM]), field="")
    qs = Region.objects.filter(level="grid", is_active=True, boundary__isnull=False)
    if q is not None:
        qs = qs.filter(q)
    return geojson.feature_collection(
        qs.only("id", "path", "depth", "code", "name", "level", "boundary", "centroid_lat", "centroid_lng", "area_km2").order_by("path")[:limit]
    )


# ---- choices for forms ---------------------------------------------------------------------------------------


def worker_choices(*, actor: Any, region: Region | None = None, perm: str = P.MANAGE, limit: int = 300) -> list[Account]:
    """Active accounts holding patrol.perform inside the actor's ``perm`` scope (or over ``region``)."""
    roles = [r.pk for r in Role.objects.only("id", "permissions") if P.PERFORM in (r.permissions or [])]
    qs = RoleAssignment.objects.filter(role_id__in=roles, account__is_active=True)
    if region is not None:
        ancestors = [region.path[:i] for i in range(Region.steplen, len(region.path) + 1, Region.steplen)]
        qs = qs.filter(region__path__in=ancestors)
    else:
        q = scope_q(RoleAssignment, actor.scope_paths(perm))
        if q is not None:
            qs = qs.filter(q)
    ids = qs.values("account_id")
    return list(Account.objects.filter(pk__in=ids).order_by("display_name", "username")[:limit])


def manage_regions(*, actor: Any, limit: int = 500) -> list[Region]:
    """Communities and grids where the actor may keep routes."""
    q = scope_q(Region, actor.scope_paths(P.MANAGE), field="")
    qs = Region.objects.filter(level__in=["community", "grid"], is_active=True)
    if q is not None:
        qs = qs.filter(q)
    return list(qs.only("id", "name", "level", "path").order_by("path")[:limit])


def region_ref(*, region_id: int | None) -> Region | None:
    if region_id is None:
        return None
    r = Region.objects.filter(pk=region_id).first()
    if r is None:
        raise NotFound("place.region_not_found")
    return r


def account_ref(*, account_id: int | None) -> Account | None:
    if account_id is None:
        return None
    a = Account.objects.filter(pk=account_id).first()
    if a is None:
        raise NotFound("patrol.worker_not_found")
    return a
