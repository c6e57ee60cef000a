"""/api/v1/patrols — routes and checkpoints, tasks (plan, recurring, assign, cancel, start, check in,
finish), check-ins, "发现问题，一键上报" (finding → case), coverage and tracks (who patrolled where)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Query, Router
from ninja import Status as Http

from linli.cases import selectors as case_selectors
from linli.core.errors import Invalid
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page

from . import selectors as sel
from . import services as svc
from .models import PatrolTask, TaskStatus
from .schemas import (
    AssignIn,
    CheckInIn,
    CheckInOut,
    CoverageOut,
    FindingIn,
    FindingOut,
    NoteIn,
    RecurringIn,
    RouteDetailOut,
    RouteIn,
    RouteOut,
    RoutePatch,
    TaskDetailOut,
    TaskIn,
    TaskOut,
    TrackOut,
)

router = Router()
MAX_COVERAGE_DAYS = 93


def _page(qs, cursor: str | None, limit: int | None, order: str = "-id") -> dict[str, Any]:
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, order=order)
    return {"items": rows, "next_cursor": next_cursor}


def _points(items) -> list[svc.CheckpointIn]:
    return [svc.CheckpointIn(p.name, p.lat, p.lng, p.tolerance_m, p.building_id, p.house_id, p.id) for p in items]


def _statuses(status: str | None) -> list[str] | None:
    if not status:
        return None
    values = [s for s in status.split(",") if s]
    if any(s not in TaskStatus.values for s in values):
        raise Invalid("patrol.status_invalid", Msg("未知的任务状态", "Unknown task status"), detail={"allowed": TaskStatus.values})
    return values


def _detail(task: PatrolTask) -> PatrolTask:
    task.detail_checkpoints = [row["checkpoint"] for row in sel.task_checkpoints(task=task)]
    task.detail_checkins = sel.task_checkins(task=task)
    task.detail_findings = sel.task_findings(task=task)
    return task


# ---- routes ------------------------------------------------------------------------------------------------


@router.get("/routes", response={200: Page[RouteOut], **ERRORS}, summary="巡查路线列表")
def list_routes(request, region_id: int | None = None, is_active: bool | None = None, q: str | None = Query(None, max_length=60),
                cursor: str | None = None, limit: int | None = None):
    return _page(sel.route_list(actor=request.auth, region_id=region_id, is_active=is_active, q=q), cursor, limit)


@router.post("/routes", response={201: RouteDetailOut, **ERRORS}, summary="新建巡查路线（含点位）")
def create_route(request, payload: RouteIn):
    route = svc.route_create(
        actor=request.auth, region=sel.region_ref(region_id=payload.region_id), name=payload.name, description=payload.description,
        tolerance_m=payload.tolerance_m, allow_repeat_checkins=payload.allow_repeat_checkins, is_active=payload.is_active,
        checkpoints=_points(payload.checkpoints),
    )
    return Http(201, sel.route_get(actor=request.auth, route_id=route.pk))


@router.get("/routes/{int:route_id}", response={200: RouteDetailOut, **ERRORS}, summary="巡查路线详情")
def get_route(request, route_id: int):
    return sel.route_get(actor=request.auth, route_id=route_id)


@router.patch("/routes/{int:route_id}", response={200: RouteDetailOut, **ERRORS}, summary="修改巡查路线（给出点位即整体替换）")
def update_route(request, route_id: int, payload: RoutePatch):
    route = sel.route_get(actor=request.auth, route_id=route_id)
    data = payload.dict(exclude_unset=True)
    changes: dict[str, Any] = {k: v for k, v in data.items() if k not in ("region_id", "checkpoints") and v is not None}
    if data.get("region_id") is not None:
        changes["region"] = sel.region_ref(region_id=data["region_id"])
    if payload.checkpoints is not None:
        changes["checkpoints"] = _points(payload.checkpoints)
    svc.route_update(actor=request.auth, route=route, **changes)
    return sel.route_get(actor=request.auth, route_id=route.pk)


# ---- tasks -------------------------------------------------------------------------------------------------


@router.get("/tasks", response={200: Page[TaskOut], **ERRORS}, summary="巡查任务列表")
def list_tasks(request, worker_id: int | None = None, mine: bool = False, date: dt.date | None = None, date_from: dt.date | None = None,
               date_to: dt.date | None = None, status: str | None = Query(None, description="comma-separated"), region_id: int | None = None,
               route_id: int | None = None, cursor: str | None = None, limit: int | None = None):
    qs = sel.task_list(actor=request.auth, worker_id=request.auth.pk if mine else worker_id, date=date, date_from=date_from, date_to=date_to,
                       status=_statuses(status), region_id=region_id, route_id=route_id)
    return _page(qs, cursor, limit)


def _route_worker(request, route_id: int, worker_id: int):
    return sel.route_get(actor=request.auth, route_id=route_id), sel.account_ref(account_id=worker_id)


@router.post("/tasks", response={201: TaskOut, **ERRORS}, summary="派发巡查任务")
def plan_task(request, payload: TaskIn):
    route, worker = _route_worker(request, payload.route_id, payload.worker_id)
    task = svc.task_plan(actor=request.auth, route=route, worker=worker, date=payload.date, start=payload.start, end=payload.end)
    return Http(201, sel.task_get(actor=request.auth, task_id=task.pk))


@router.post("/tasks/recurring", response={201: list[TaskOut], **ERRORS}, summary="按天/按周批量排班（重复提交不会重复生成）")
def plan_recurring(request, payload: RecurringIn):
    route, worker = _route_worker(request, payload.route_id, payload.worker_id)
    tasks = svc.task_plan_recurring(actor=request.auth, route=route, worker=worker, date_from=payload.date_from, date_to=payload.date_to,
                                    start=payload.start, end=payload.end, frequency=payload.frequency, weekdays=payload.weekdays)
    return Http(201, list(sel.tasks_for_actor(request.auth).filter(pk__in=[t.pk for t in tasks]).order_by("window_start")))


@router.get("/tasks/{int:task_id}", response={200: TaskDetailOut, **ERRORS}, summary="巡查任务详情（点位、打卡、上报）")
def get_task(request, task_id: int):
    return _detail(sel.task_get(actor=request.auth, task_id=task_id))


def _act(request, task_id: int, fn, **kw) -> PatrolTask:
    task = sel.task_get(actor=request.auth, task_id=task_id)
    fn(actor=request.auth, task=task, **kw)
    return _detail(sel.task_get(actor=request.auth, task_id=task_id))


@router.post("/tasks/{int:task_id}/assign", response={200: TaskDetailOut, **ERRORS}, summary="改派给其他网格员")
def assign_task(request, task_id: int, payload: AssignIn):
    return _act(request, task_id, svc.task_assign, worker=sel.account_ref(account_id=payload.worker_id))


@router.post("/tasks/{int:task_id}/cancel", response={200: TaskDetailOut, **ERRORS}, summary="取消任务")
def cancel_task(request, task_id: int, payload: NoteIn):
    return _act(request, task_id, svc.task_cancel, note=payload.note)


@router.post("/tasks/{int:task_id}/start", response={200: TaskDetailOut, **ERRORS}, summary="开始巡查")
def start_task(request, task_id: int):
    return _act(request, task_id, svc.task_start)


@router.post("/tasks/{int:task_id}/finish", response={200: TaskDetailOut, **ERRORS}, summary="完成巡查")
def finish_task(request, task_id: int, payload: NoteIn):
    return _act(request, task_id, svc.task_finish, note=payload.note)


@router.post("/tasks/{int:task_id}/checkins", response={201: CheckInOut, **ERRORS}, summary="打卡（位置、照片）")
def check_in(request, task_id: int, payload: CheckInIn):
    task = sel.task_get(actor=request.auth, task_id=task_id)
    checkin = svc.task_check_in(
        actor=request.auth, task=task, lat=payload.lat, lng=payload.lng, accuracy_m=payload.accuracy_m,
        checkpoint=sel.checkpoint_ref(task=task, checkpoint_id=payload.checkpoint_id), photos=payload.photos, note=payload.note,
        source=payload.source,
    )
    return Http(201, checkin)


@router.post("/tasks/{int:task_id}/findings", response={201: FindingOut, **ERRORS}, summary="发现问题，一键上报为事件工单")
def report_finding(request, task_id: int, payload: FindingIn):
    actor = request.auth
    task = sel.task_get(actor=actor, task_id=task_id)
    finding = svc.finding_report(
        actor=actor, task=task, category=case_selectors.category_get(category_id=payload.category_id), title=payload.title,
        description=payload.description, checkin=sel.checkin_get(task=task, checkin_id=payload.checkin_id), lat=payload.lat,
        lng=payload.lng, photos=payload.photos, confirm_new=payload.confirm_new,
        add_to=case_selectors.case_get(actor=actor, case_id=payload.add_to_case_id) if payload.add_to_case_id else None,
    )
    return Http(201, finding)


# ---- check-ins, coverage, tracks ------------------------------------------------------------------------------


@router.get("/checkins", response={200: Page[CheckInOut], **ERRORS}, summary="打卡记录")
def list_checkins(request, task_id: int | None = None, worker_id: int | None = None, date: dt.date | None = None,
                  region_id: int | None = None, off_route: bool | None = None, cursor: str | None = None, limit: int | None = None):
    qs = sel.checkin_list(actor=request.auth, task_id=task_id, worker_id=worker_id, date=date, region_id=region_id, off_route=off_route)
    return _page(qs, cursor, limit)


@router.get("/coverage", response={200: list[CoverageOut], **ERRORS}, summary="点位覆盖率（按路线、按天）")
def get_coverage(request, date_from: dt.date, date_to: dt.date, region_id: int | None = None, worker_id: int | None = None):
    if date_to < date_from or (date_to - date_from).days >= MAX_COVERAGE_DAYS:
        raise Invalid("patrol.range_invalid", Msg("日期范围无效（最多{n}天）", "Invalid date range (at most {n} days)"), n=MAX_COVERAGE_DAYS)
    return sel.coverage(actor=request.auth, date_from=date_from, date_to=date_to, region_id=region_id, worker_id=worker_id)


@router.get("/tracks", response={200: list[TrackOut], **ERRORS}, summary="谁在哪里巡查过（某天每位网格员的打卡轨迹）")
def get_tracks(request, date: dt.date, worker_id: int | None = None, region_id: int | None = None):
    return [
        {"worker": t["worker"], "points": [
            {"checkin_id": c.pk, "task_id": c.task_id, "route": c.task.route.name, "checkpoint": c.checkpoint.name if c.checkpoint_id else None,
             "lat": c.lat, "lng": c.lng, "at": c.at, "off_route": c.off_route} for c in t["points"]]}
        for t in sel.tracks(actor=request.auth, day=date, worker_id=worker_id, region_id=region_id)
    ]
