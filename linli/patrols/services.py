"""Writes of grid patrols (C6). Keyword-only, atomic, checked first (``check_*``), audited.

Task states::

    planned → in_progress → done
    planned | in_progress → missed      (the sweep, after the window closed)
    planned → cancelled                  (a manager)

Who may do what: ``patrol.manage`` over the route's region edits routes and plans, assigns and
cancels tasks; the task's own worker, holding ``patrol.perform`` over its region, starts it, checks
in, reports findings and finishes it. A task the actor cannot see is a 404; a visible task the actor
may not act on is a 403.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from linli.audit.services import record, snapshot
from linli.cases import selectors as case_selectors
from linli.cases import services as case_services
from linli.cases.models import Case, Category, Channel
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.core.i18n import Msg
from linli.orgs.models import Account, AccountKind
from linli.orgs.perms import check_perm_anywhere, check_perm_at, covers, covers_any
from linli.places.models import Building, House, Region

from .models import (
    MAX_TOLERANCE_M,
    MIN_TOLERANCE_M,
    OPEN_TASK_STATUSES,
    CheckIn,
    Checkpoint,
    Finding,
    PatrolRoute,
    PatrolTask,
    TaskStatus,
)
from .perms import PatrolPerm

T = TaskStatus
MAX_CHECKPOINTS = 100
MAX_RECURRING_DAYS = 92
ROUTE_AUDIT = ["name", "region", "description", "tolerance_m", "allow_repeat_checkins", "is_active"]
TASK_AUDIT = ["status", "worker", "window_start", "window_end", "started_at", "finished_at", "visited_count"]

# ---- geometry --------------------------------------------------------------------------------------------

distance_m = case_services.distance_m


def _xy(lat: float, lng: float, lat0: float) -> tuple[float, float]:
    """Local equirectangular metres around latitude ``lat0`` (exact enough inside one grid)."""
    return math.radians(lng) * 6371000.0 * math.cos(math.radians(lat0)), math.radians(lat) * 6371000.0


def distance_to_path_m(lat: float, lng: float, path: Sequence[tuple[float, float]]) -> float | None:
    """Shortest distance in metres from a point to the polyline through ``path`` ((lat, lng) pairs)."""
    if not path:
        return None
    if len(path) == 1:
        return distance_m(lat, lng, *path[0])
    px, py = _xy(lat, lng, lat)
    best = math.inf
    for (alat, alng), (blat, blng) in zip(path, path[1:], strict=False):
        ax, ay = _xy(alat, alng, lat)
        bx, by = _xy(blat, blng, lat)
        dx, dy = bx - ax, by - ay
        seg = dx * dx + dy * dy
        t = 0.0 if seg == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / seg))
        best = min(best, math.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best


def _check_lat_lng(lat: Any, lng: Any, *, code: str = "patrol.location_invalid") -> tuple[float, float]:
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError):
        raise Invalid(code, Msg("请提供有效的经纬度", "Give a valid latitude and longitude")) from None
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise Invalid(code, Msg("经纬度超出范围", "Latitude/longitude out of range"), detail={"lat": lat, "lng": lng})
    return lat, lng


# ---- checks ------------------------------------------------------------------------------------------------


def _forbidden(perm: str, message: Msg | None = None) -> Forbidden:
    return Forbidden("permission.denied", message or Msg("没有执行此操作的权限（{perm}）", "You do not have permission for this action ({perm})"),
                     perm=str(perm), detail={"permission": str(perm)})


def can_view_route(actor: Any, route: PatrolRoute) -> bool:
    path = route.region.path
    return covers(actor, PatrolPerm.VIEW, path) or covers(actor, PatrolPerm.PERFORM, path) or covers(actor, PatrolPerm.MANAGE, path)


def can_view_task(actor: Any, task: PatrolTask) -> bool:
    """In the actor's view/manage scope, or the actor's own task (with patrol.perform somewhere)."""
    path = task.region.path
    if covers(actor, PatrolPerm.VIEW, path) or covers(actor, PatrolPerm.MANAGE, path):
        return True
    return task.worker_id == getattr(actor, "pk", None) and covers_any(actor, PatrolPerm.PERFORM)


def check_view_task(actor: Any, task: PatrolTask) -> None:
    if not can_view_task(actor, task):
        raise NotFound("patrol.task_not_found")


def check_manage(actor: Any, region: Region) -> None:
    """403 without patrol.manage anywhere; 404 when ``region`` is outside the actor's manage scope."""
    check_perm_at(actor, PatrolPerm.MANAGE, region.path, code="patrol.region_out_of_scope",
                  message=Msg("该区域不在您的管辖范围内", "The region is outside your scope"))


def check_perform(actor: Any, task: PatrolTask) -> None:
    """Only the task's own worker, holding patrol.perform over the task's region, works on it."""
    check_view_task(actor, task)
    if task.worker_id != getattr(actor, "pk", None):
        raise Forbidden("patrol.not_your_task", Msg("只有被指派的网格员可以执行此任务", "Only the assigned grid worker can work on this task"))
    if not covers(actor, PatrolPerm.PERFORM, task.region.path):
        raise _forbidden(PatrolPerm.PERFORM)


def check_state(task: PatrolTask, allowed: Sequence[str], action: str) -> None:
    if task.status not in allowed:
        raise Conflict(
            "patrol.invalid_transition",
            Msg("任务当前状态“{state}”不能执行“{action}”", "A task in state '{state}' cannot '{action}'"),
            state=TaskStatus(task.status).label, action=action,
            detail={"from": task.status, "action": action, "allowed_from": list(allowed)},
        )


def check_worker(worker: Account | None, region: Region) -> Account:
    """The assignee must be an active staff account holding patrol.perform over the route's region."""
    if worker is None or not worker.is_active or worker.kind != AccountKind.STAFF:
        raise Invalid("patrol.worker_invalid", Msg("请选择有效的网格员账号", "Choose an active grid worker account"))
    if not covers(worker, PatrolPerm.PERFORM, region.path):
        raise Invalid("patrol.worker_out_of_scope", Msg("该网格员没有此区域的巡查权限", "This worker may not patrol this area"),
                      detail={"worker": worker.pk})
    return worker


def _lock(task: PatrolTask) -> PatrolTask:
    locked = PatrolTask.objects.select_for_update().filter(pk=task.pk).first()
    if locked is None:
        raise NotFound("patrol.task_not_found")
    locked.region = task.region if task.region_id == locked.region_id else Region.objects.get(pk=locked.region_id)
    return locked


def _audit_task(actor: Any, action: str, task: PatrolTask, before: dict | None, **detail: Any) -> None:
    record(actor=actor, action=f"patrol.{action}", obj=task, before=before, after=snapshot(task, TASK_AUDIT),
           detail={"route": task.route_id, **detail}, region_path=task.region.path)


# ---- routes ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointIn:
    name: str
    lat: float
    lng: float
    tolerance_m: int | None = None
    building_id: int | None = None
    house_id: int | None = None
    id: int | None = None


def _clean_checkpoints(points: Sequence[CheckpointIn], *, region: Region, default_tolerance: int) -> list[CheckpointIn]:
    if len(points) > MAX_CHECKPOINTS:
        raise Invalid("patrol.too_many_checkpoints", Msg("一条路线最多{n}个点位", "At most {n} checkpoints per route"), n=MAX_CHECKPOINTS)
    out = []
    for i, p in enumerate(points, start=1):
        name = (p.name or "").strip()[:60] or f"点位{i}"
        lat, lng = _check_lat_lng(p.lat, p.lng, code="patrol.checkpoint_invalid")
        tol = p.tolerance_m if p.tolerance_m is not None else default_tolerance
        if not (MIN_TOLERANCE_M <= int(tol) <= MAX_TOLERANCE_M):
            raise Invalid("patrol.tolerance_invalid", Msg("打卡半径须在{lo}到{hi}米之间", "The radius must be {lo}–{hi} m"),
                          lo=MIN_TOLERANCE_M, hi=MAX_TOLERANCE_M, detail={"checkpoint": i})
        out.append(CheckpointIn(name, lat, lng, int(tol), p.building_id, p.house_id, p.id))
    _check_places(out, region)
    return out


def _check_places(points: Sequence[CheckpointIn], region: Region) -> None:
    """Linked buildings and houses must lie inside the route's region (one query each kind)."""
    for model, attr, code in ((Building, "building_id", "patrol.building_invalid"), (House, "house_id", "patrol.house_invalid")):
        ids = {getattr(p, attr) for p in points if getattr(p, attr)}
        if ids and model.objects.filter(pk__in=ids, region__path__startswith=region.path).count() != len(ids):
            raise Invalid(code, Msg("关联的楼栋或房屋不在该路线的区域内", "A linked building or house is outside the route's region"))


def _check_tolerance(value: int) -> int:
    if not (MIN_TOLERANCE_M <= int(value) <= MAX_TOLERANCE_M):
        raise Invalid("patrol.tolerance_invalid", Msg("打卡半径须在{lo}到{hi}米之间", "The radius must be {lo}–{hi} m"),
                      lo=MIN_TOLERANCE_M, hi=MAX_TOLERANCE_M)
    return int(value)


def _save_route(route: PatrolRoute) -> None:
    route.name = (route.name or "").strip()
    if not route.name:
        raise Invalid("patrol.name_required", Msg("请填写路线名称", "A route name is required"))
    route.clean_fields(exclude=["region", "created_by"])
    try:
        with transaction.atomic():
            route.save()
    except IntegrityError:
        raise Conflict("patrol.route_name_taken", Msg("该区域已有同名路线", "A route with this name already exists in the region")) from None


def _replace_checkpoints(route: PatrolRoute, points: Sequence[CheckpointIn]) -> None:
    """Make the route's active checkpoints exactly ``points`` in order. A kept one (same id) is updated
    in place; a dropped one is deleted, or retired when check-ins refer to it."""
    existing = {c.pk: c for c in route.checkpoints.filter(is_active=True)}
    unknown = {p.id for p in points if p.id} - set(existing)
    if unknown:
        raise Invalid("patrol.checkpoint_unknown", Msg("点位不属于该路线", "A checkpoint does not belong to this route"), detail={"ids": sorted(unknown)})
    # Free the seq numbers first (the unique index covers active rows only), then write the new order.
    route.checkpoints.filter(is_active=True).update(is_active=False)
    kept = set()
    for seq, p in enumerate(points, start=1):
        fields = dict(seq=seq, name=p.name, lat=p.lat, lng=p.lng, tolerance_m=p.tolerance_m, building_id=p.building_id, house_id=p.house_id, is_active=True)
        if p.id:
            Checkpoint.objects.filter(pk=p.id).update(**fields)
            kept.add(p.id)
        else:
            Checkpoint.objects.create(route=route, **fields)
    dropped = set(existing) - kept
    if dropped:
        used = set(CheckIn.objects.filter(checkpoint_id__in=dropped).values_list("checkpoint_id", flat=True))
        Checkpoint.objects.filter(pk__in=dropped - used).delete()


@transaction.atomic
def route_create(*, actor: Any, region: Region, name: str, checkpoints: Sequence[CheckpointIn] = (), description: str = "",
                 tolerance_m: int = 50, allow_repeat_checkins: bool = False, is_active: bool = True) -> PatrolRoute:
    check_manage(actor, region)
    tolerance_m = _check_tolerance(tolerance_m)
    points = _clean_checkpoints(checkpoints, region=region, default_tolerance=tolerance_m)
    route = PatrolRoute(region=region, name=name, description=(description or "").strip(), tolerance_m=tolerance_m,
                        allow_repeat_checkins=allow_repeat_checkins, is_active=is_active, created_by=actor if getattr(actor, "pk", None) else None)
    _save_route(route)
    _replace_checkpoints(route, [CheckpointIn(p.name, p.lat, p.lng, p.tolerance_m, p.building_id, p.house_id) for p in points])
    record(actor=actor, action="patrol.route_create", obj=route, after={**snapshot(route, ROUTE_AUDIT), "checkpoints": len(points)},
           region_path=region.path)
    return route


_UNSET: Any = object()


@transaction.atomic
def route_update(*, actor: Any, route: PatrolRoute, name: str = _UNSET, region: Region = _UNSET, description: str = _UNSET,
                 tolerance_m: int = _UNSET, allow_repeat_checkins: bool = _UNSET, is_active: bool = _UNSET,
                 checkpoints: Sequence[CheckpointIn] | None = None) -> PatrolRoute:
    """Change a route; ``checkpoints`` (when given) replaces the ordered list. Moving a route to
    another region needs patrol.manage over both."""
    check_manage(actor, route.region)
    route = PatrolRoute.objects.select_for_update().select_related("region").get(pk=route.pk)
    before = snapshot(route, ROUTE_AUDIT)
    if region is not _UNSET and region.pk != route.region_id:
        check_manage(actor, region)
        if route.tasks.filter(status__in=OPEN_TASK_STATUSES).exists():
            raise Conflict("patrol.route_has_open_tasks", Msg("路线还有未完成的任务，不能改到其他区域", "The route has open tasks; it cannot move to another region"))
        route.region = region
    for field, value in (("name", name), ("description", description), ("allow_repeat_checkins", allow_repeat_checkins), ("is_active", is_active)):
        if value is not _UNSET:
            setattr(route, field, value.strip() if isinstance(value, str) else value)
    if tolerance_m is not _UNSET:
        route.tolerance_m = _check_tolerance(tolerance_m)
    _save_route(route)
    detail: dict[str, Any] = {}
    if checkpoints is not None:
        points = _clean_checkpoints(checkpoints, region=route.region, default_tolerance=route.tolerance_m)
        _replace_checkpoints(route, points)
        detail["checkpoints"] = len(points)
    elif region is not _UNSET:
        _check_places([CheckpointIn(c.name, c.lat, c.lng, c.tolerance_m, c.building_id, c.house_id) for c in route.checkpoints.filter(is_active=True)], route.region)
    record(actor=actor, action="patrol.route_update", obj=route, before=before, after=snapshot(route, ROUTE_AUDIT), detail=detail,
           region_path=route.region.path)
    return route


# ---- planning ----------------------------------------------------------------------------------------------


def _window(day: dt.date, start: dt.time, end: dt.time) -> tuple[dt.datetime, dt.datetime]:
    if end <= start:
        raise Invalid("patrol.window_invalid", Msg("结束时间须晚于开始时间", "The end time must be after the start time"))
    tz = timezone.get_current_timezone()
    return dt.datetime.combine(day, start, tzinfo=tz), dt.datetime.combine(day, end, tzinfo=tz)


def _plannable_route(actor: Any, route: PatrolRoute) -> int:
    check_manage(actor, route.region)
    if not route.is_active:
        raise Invalid("patrol.route_inactive", Msg("该路线已停用", "This route is not in use"))
    total = route.checkpoints.filter(is_active=True).count()
    if not total:
        raise Invalid("patrol.route_empty", Msg("路线还没有巡查点位", "The route has no checkpoints yet"))
    return total


@transaction.atomic
def task_plan(*, actor: Any, route: PatrolRoute, worker: Account, date: dt.date, start: dt.time, end: dt.time,
              now: dt.datetime | None = None) -> PatrolTask:
    """Plan one task: ``worker`` walks ``route`` on ``date`` between ``start`` and ``end`` (local time)."""
    total = _plannable_route(actor, route)
    check_worker(worker, route.region)
    ws, we = _window(date, start, end)
    if we <= (now or timezone.now()):
        raise Invalid("patrol.window_past", Msg("不能为已经过去的时段排班", "The time window is already over"))
    task = PatrolTask(route=route, region=route.region, worker=worker, date=date, window_start=ws, window_end=we,
                      checkpoint_total=total, assigned_by=actor if getattr(actor, "pk", None) else None)
    try:
        with transaction.atomic():
            task.save()
    except IntegrityError:
        raise Conflict("patrol.task_exists", Msg("该网格员在这一时段已有此路线的任务", "This worker already has this route at that time")) from None
    _audit_task(actor, "task_plan", task, None)
    return task


FREQUENCIES = ("daily", "weekly")


@transaction.atomic
def task_plan_recurring(*, actor: Any, route: PatrolRoute, worker: Account, date_from: dt.date, date_to: dt.date, start: dt.time,
                        end: dt.time, frequency: str = "daily", weekdays: Sequence[int] = (), now: dt.datetime | None = None) -> list[PatrolTask]:
    """Generate tasks for every day (``daily``) or the chosen weekdays (``weekly``, 0 = Monday) of a
    date range, skipping slots already planned and windows already over. Safe to run twice."""
    total = _plannable_route(actor, route)
    check_worker(worker, route.region)
    if frequency not in FREQUENCIES:
        raise Invalid("patrol.frequency_invalid", Msg("重复方式须为每天或每周", "Frequency must be daily or weekly"))
    if date_to < date_from:
        raise Invalid("patrol.range_invalid", Msg("结束日期须不早于开始日期", "The end date must not be before the start date"))
    if (date_to - date_from).days + 1 > MAX_RECURRING_DAYS:
        raise Invalid("patrol.range_too_long", Msg("一次最多排{n}天", "At most {n} days at a time"), n=MAX_RECURRING_DAYS)
    days = set(weekdays)
    if frequency == "weekly" and (not days or not days <= set(range(7))):
        raise Invalid("patrol.weekdays_invalid", Msg("请选择每周的巡查日", "Choose the weekdays"))
    _window(date_from, start, end)
    now = now or timezone.now()
    slots = []
    day = date_from
    while day <= date_to:
        if frequency == "daily" or day.weekday() in days:
            ws, we = _window(day, start, end)
            if we > now:
                slots.append((day, ws, we))
        day += dt.timedelta(days=1)
    taken = set(PatrolTask.objects.filter(route=route, worker=worker, window_start__in=[s[1] for s in slots]).values_list("window_start", flat=True))
    new = [PatrolTask(route=route, region=route.region, worker=worker, date=d, window_start=ws, window_end=we, checkpoint_total=total,
                      assigned_by=actor if getattr(actor, "pk", None) else None) for d, ws, we in slots if ws not in taken]
    PatrolTask.objects.bulk_create(new, batch_size=500)
    created = list(PatrolTask.objects.filter(route=route, worker=worker, window_start__in=[t.window_start for t in new]).order_by("window_start"))
    record(actor=actor, action="patrol.task_plan_recurring", object_type="patrols.patroltask", object_id=route.pk,
           detail={"route": route.pk, "worker": worker.pk, "from": str(date_from), "to": str(date_to), "frequency": frequency,
                   "weekdays": sorted(days), "created": len(created), "skipped": len(slots) - len(created)},
           region_path=route.region.path)
    return created


@transaction.atomic
def task_assign(*, actor: Any, task: PatrolTask, worker: Account) -> PatrolTask:
    """Give a planned task to another worker."""
    check_view_task(actor, task)
    check_manage(actor, task.region)
    task = _lock(task)
    check_state(task, [T.PLANNED], "assign")
    check_worker(worker, task.region)
    before = snapshot(task, TASK_AUDIT)
    task.worker = worker
    try:
        with transaction.atomic():
            task.save(update_fields=["worker", "updated_at"])
    except IntegrityError:
        raise Conflict("patrol.task_exists", Msg("该网格员在这一时段已有此路线的任务", "This worker already has this route at that time")) from None
    _audit_task(actor, "task_assign", task, before, worker=worker.pk)
    return task


@transaction.atomic
def task_cancel(*, actor: Any, task: PatrolTask, note: str = "") -> PatrolTask:
    check_view_task(actor, task)
    check_manage(actor, task.region)
    task = _lock(task)
    check_state(task, [T.PLANNED], "cancel")
    before = snapshot(task, TASK_AUDIT)
    task.status, task.note = T.CANCELLED, (note or "").strip()[:500]
    task.save(update_fields=["status", "note", "updated_at"])
    _audit_task(actor, "task_cancel", task, before)
    return task


# ---- doing the patrol --------------------------------------------------------------------------------------


@transaction.atomic
def task_start(*, actor: Any, task: PatrolTask, now: dt.datetime | None = None) -> PatrolTask:
    check_perform(actor, task)
    task = _lock(task)
    check_state(task, [T.PLANNED], "start")
    now = now or timezone.now()
    early = dt.timedelta(minutes=getattr(settings, "LINLI_PATROL_EARLY_START_MIN", 60))
    if now < task.window_start - early:
        raise Conflict("patrol.too_early", Msg("任务尚未到开始时间（{at}）", "The task's window has not opened yet ({at})"),
                       at=timezone.localtime(task.window_start).strftime("%m-%d %H:%M"))
    if now > task.window_end:
        raise Conflict("patrol.window_over", Msg("任务时段已结束", "The task's time window is over"))
    before = snapshot(task, TASK_AUDIT)
    task.status, task.started_at = T.IN_PROGRESS, now
    task.save(update_fields=["status", "started_at", "updated_at"])
    _audit_task(actor, "task_start", task, before)
    return task


def _route_points(task: PatrolTask) -> list[Checkpoint]:
    return list(Checkpoint.objects.filter(route_id=task.route_id, is_active=True).order_by("seq"))


@transaction.atomic
def task_check_in(*, actor: Any, task: PatrolTask, lat: float, lng: float, accuracy_m: float | None = None,
                  checkpoint: Checkpoint | int | None = None, photos: Sequence[str] = (), note: str = "", source: str = "gps",
                  now: dt.datetime | None = None) -> CheckIn:
    """Record a position. With ``checkpoint`` the check-in belongs to it and is off route beyond its
    radius; without, it is matched to the nearest not-yet-visited checkpoint whose radius covers the
    point, else kept as a free point, off route when farther than the route's radius from its path."""
    check_perform(actor, task)
    task = _lock(task)
    check_state(task, [T.IN_PROGRESS], "check_in")
    lat, lng = _check_lat_lng(lat, lng)
    if accuracy_m is not None and (not math.isfinite(float(accuracy_m)) or float(accuracy_m) < 0):
        raise Invalid("patrol.accuracy_invalid", Msg("定位精度无效", "Invalid location accuracy"))
    if source not in ("gps", "map"):
        raise Invalid("patrol.source_invalid", Msg("未知的定位方式", "Unknown location source"))
    photos = case_services.clean_photos(photos)
    points = _route_points(task)
    visited = set(CheckIn.objects.filter(task=task, checkpoint__isnull=False).values_list("checkpoint_id", flat=True))
    cp_id = getattr(checkpoint, "pk", checkpoint)
    cp = None
    if cp_id is not None:
        cp = next((p for p in points if p.pk == cp_id), None)
        if cp is None:
            raise Invalid("patrol.checkpoint_invalid", Msg("该点位不属于此任务的路线", "The checkpoint is not on this task's route"))
    else:
        near = sorted(((distance_m(lat, lng, p.lat, p.lng), p.seq, p) for p in points if p.pk not in visited), key=lambda x: x[:2])
        cp = next((p for d, _s, p in near if d <= p.tolerance_m), None)
    repeat = cp is not None and cp.pk in visited
    if repeat and not task.route.allow_repeat_checkins:
        raise Conflict("patrol.already_checked_in", Msg("已在“{name}”打过卡", "Already checked in at '{name}'"), name=cp.name,
                       detail={"checkpoint": cp.pk})
    if cp is not None:
        dist = distance_m(lat, lng, cp.lat, cp.lng)
        off = dist > cp.tolerance_m
    else:
        dist = distance_to_path_m(lat, lng, [(p.lat, p.lng) for p in points])
        off = dist is not None and dist > task.route.tolerance_m
    checkin = CheckIn(task=task, checkpoint=cp, lat=lat, lng=lng, accuracy_m=accuracy_m, distance_m=None if dist is None else round(dist, 1),
                      off_route=off, is_repeat=repeat, source=source, photos=photos, note=(note or "").strip()[:500], at=now or timezone.now(),
                      created_by=actor)
    try:
        with transaction.atomic():
            checkin.save()
    except IntegrityError:  # a concurrent first check-in at the same checkpoint won the race
        raise Conflict("patrol.already_checked_in", Msg("已在“{name}”打过卡", "Already checked in at '{name}'"), name=cp.name if cp else "") from None
    _recount(task)
    record(actor=actor, action="patrol.check_in", obj=checkin,
           after={"task": task.pk, "checkpoint": cp.pk if cp else None, "off_route": off, "distance_m": checkin.distance_m, "photos": len(photos)},
           region_path=task.region.path)
    return checkin


def _recount(task: PatrolTask) -> None:
    """Visited = distinct checkpoints reached within their radius (capped at the planned total)."""
    n = CheckIn.objects.filter(task=task, checkpoint__isnull=False, off_route=False).values("checkpoint_id").distinct().count()
    task.visited_count = min(n, task.checkpoint_total)
    PatrolTask.objects.filter(pk=task.pk).update(visited_count=task.visited_count)


@transaction.atomic
def task_finish(*, actor: Any, task: PatrolTask, note: str = "", now: dt.datetime | None = None) -> PatrolTask:
    """Finish the patrol. With checkpoints not reached, the worker must say why."""
    check_perform(actor, task)
    task = _lock(task)
    check_state(task, [T.IN_PROGRESS], "finish")
    note = (note or "").strip()
    if task.visited_count < task.checkpoint_total and not note:
        raise Invalid("patrol.note_required", Msg("还有{n}个点位未到达，请说明原因", "{n} checkpoints were not reached: say why"),
                      n=task.checkpoint_total - task.visited_count, detail={"missing": task.checkpoint_total - task.visited_count})
    before = snapshot(task, TASK_AUDIT)
    task.status, task.finished_at, task.note = T.DONE, now or timezone.now(), note[:500]
    task.save(update_fields=["status", "finished_at", "note", "updated_at"])
    _audit_task(actor, "task_finish", task, before, coverage=task.coverage)
    return task


# ---- findings → cases (C1 channel "patrol") ----------------------------------------------------------------


def duplicate_candidates(*, actor: Any, category: Category, lat: float, lng: float, now: dt.datetime | None = None) -> list[tuple[Case, float]]:
    """Open cases of the same category nearby that the actor may see — offered before filing (C1)."""
    return case_selectors.duplicates_near(actor=actor, category_id=category.pk, lat=lat, lng=lng, at=now)


@transaction.atomic
def finding_report(*, actor: Any, task: PatrolTask, category: Category, title: str, description: str = "",
                   checkin: CheckIn | None = None, lat: float | None = None, lng: float | None = None, photos: Sequence[str] = (),
                   confirm_new: bool = False, add_to: Case | None = None) -> Finding:
    """发现问题，一键上报: one call files a case (channel ``patrol``) at the check-in's place with its
    photos plus any new ones. Open cases of the same category nearby are offered first (409
    ``patrol.duplicate_candidates``); the worker then either confirms a new case or adds the finding
    to one of them (``add_to``: a comment with the photos on that case)."""
    check_perform(actor, task)
    task = _lock(task)
    check_state(task, [T.IN_PROGRESS], "report_finding")
    if checkin is not None:
        if checkin.task_id != task.pk:
            raise Invalid("patrol.checkin_invalid", Msg("该打卡不属于此任务", "The check-in does not belong to this task"))
        lat, lng = checkin.lat, checkin.lng
        photos = [*checkin.photos, *photos]
    if lat is None or lng is None:
        raise Invalid("patrol.location_required", Msg("请先打卡或提供问题位置", "Check in first or give the location"))
    lat, lng = _check_lat_lng(lat, lng)
    photos = case_services.clean_photos(photos)
    title = (title or "").strip()
    if not title:
        raise Invalid("patrol.title_required", Msg("请填写问题标题", "A title is required"))
    where = f"巡查：{task.route.name}" + (f" · {checkin.checkpoint.name}" if checkin is not None and checkin.checkpoint_id else "")
    if add_to is not None:
        case_services.case_comment(actor=actor, case=add_to, note=f"{where}\n{title}\n{description}".strip(), photos=photos)
        case, added = add_to, True
    else:
        if not confirm_new:
            found = duplicate_candidates(actor=actor, category=category, lat=lat, lng=lng)
            if found:
                raise Conflict(
                    "patrol.duplicate_candidates",
                    Msg("附近已有{n}件同类未办结事件，可能是同一问题", "{n} open cases of this kind are nearby; it may be the same problem"),
                    n=len(found),
                    detail={"candidates": [{"id": c.pk, "number": c.number, "title": c.title, "status": c.status, "distance_m": round(d, 1)}
                                           for c, d in found]},
                )
        case = case_services.case_report(actor=actor, channel=Channel.PATROL, category=category, title=title,
                                         description=f"{description}\n（{where}）".strip(), lat=lat, lng=lng, photos=photos)
        added = False
    # Adding more to a case this patrol already reported keeps the one link (the comment is the news).
    finding = Finding.objects.filter(task=task, case=case).first() if added else None
    if finding is None:
        finding = Finding.objects.create(task=task, checkin=checkin, case=case, added_to_existing=added, reported_by=actor)
    record(actor=actor, action="patrol.finding_report", obj=finding, after={"task": task.pk, "case": case.pk, "added_to_existing": added},
           detail={"number": case.number}, region_path=task.region.path)
    return finding


# ---- missed-task sweep -----------------------------------------------------------------------------------------


def sweep_missed(*, now: dt.datetime | None = None, batch: int = 2000) -> int:
    """Mark planned or unfinished tasks whose window closed (plus the grace period) as missed.
    Conditional UPDATEs in batches: running it twice, or twice at once, marks each task once."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=getattr(settings, "LINLI_PATROL_MISSED_GRACE_MIN", 30))
    total = 0
    while True:
        with transaction.atomic():
            ids = list(PatrolTask.objects.filter(status__in=OPEN_TASK_STATUSES, window_end__lt=cutoff).order_by("window_end", "id")
                       .values_list("id", flat=True)[:batch])
            if not ids:
                break
            n = PatrolTask.objects.filter(pk__in=ids, status__in=OPEN_TASK_STATUSES).update(status=T.MISSED, missed_at=now, updated_at=now)
            if n:
                record(actor=None, action="patrol.sweep_missed", object_type="patrols.patroltask", object_id=ids[0],
                       detail={"count": n, "ids": ids[:200]})
            total += n
        if len(ids) < batch:
            break
    return total


def check_manage_anywhere(actor: Any) -> None:
    check_perm_anywhere(actor, PatrolPerm.MANAGE)
