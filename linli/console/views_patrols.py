"""Console pages of grid patrols (/console/patrols/, C6).

- Grid workers: "我的今日任务" (phone-first) and the task page: start, check in (browser geolocation
  with a map pick as fallback, photos), "发现问题，一键上报" (one form → a patrol case, duplicates
  offered first), finish.
- Managers: route list and editor (checkpoints picked on a tile-less Leaflet map), planning (one task
  or a daily/weekly series), the task list, and the "who patrolled where" map with coverage per route.

Views parse input, call one selector or service and render; DomainErrors are shown next to the form
(console_view renders the rest: 404 outside scope, 403 without a permission).
"""

from __future__ import annotations

import datetime as dt
import mimetypes

from django.contrib import messages
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.cases import selectors as case_selectors
from linli.core.errors import Conflict, DomainError, Invalid
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.orgs.perms import check_perm_anywhere
from linli.orgs.selectors import has_perm_anywhere
from linli.patrols import selectors as sel
from linli.patrols import services as svc
from linli.patrols.models import PatrolTask, TaskStatus
from linli.patrols.perms import PatrolPerm

from .access import console_view
from .filters import date_or, float_or_none, int_or_none, time_or_none
from .views_cases import save_photos, stored_photos

P = PatrolPerm
PAGE_SIZE = 50
PHOTO_PREFIX = "patrols"
HELD_SALT = "patrols.held-photos"
WEEKDAYS = [(0, _lazy("周一")), (1, _lazy("周二")), (2, _lazy("周三")), (3, _lazy("周四")), (4, _lazy("周五")), (5, _lazy("周六")), (6, _lazy("周日"))]
TRACK_COLOURS = ["#0b5cad", "#c2410c", "#2f9e6e", "#7c3aed", "#be123c", "#0891b2", "#65a30d", "#a16207"]


def _can(actor, perm: str) -> bool:
    return has_perm_anywhere(actor, perm)


# ---- home: my tasks today, and the overview for managers ---------------------------------------------------


@require_GET
@console_view
def patrols_home(request):
    actor = request.user
    performs, views = _can(actor, P.PERFORM), _can(actor, P.VIEW) or _can(actor, P.MANAGE)
    if not (performs or views):
        check_perm_anywhere(actor, P.VIEW)
    today = timezone.localdate()
    ctx: dict = {"today": today, "performs": performs, "views": views, "manages": _can(actor, P.MANAGE)}
    if performs:
        ctx["my_tasks"] = sel.my_tasks(actor=actor, day=today)
    if views:
        g = request.GET
        day = date_or(g.get("date"), today)
        status = g.get("status") if g.get("status") in TaskStatus.values else ""
        qs = sel.task_list(actor=actor, date=day, status=[status] if status else None, worker_id=int_or_none(g.get("worker")))
        rows, next_cursor = paginate(qs, cursor=g.get("cursor") or None, limit=PAGE_SIZE, order="-id")
        ctx.update(day=day, status=status, statuses=TaskStatus.choices, rows=rows, next_cursor=next_cursor,
                   is_first_page=not g.get("cursor"), worker=int_or_none(g.get("worker")), workers=sel.worker_choices(actor=actor, perm=P.VIEW))
    return render(request, "console/patrols/home.html", ctx)


# ---- one task ----------------------------------------------------------------------------------------------------


def _task_context(request, task: PatrolTask, **extra) -> dict:
    actor = request.user
    points = sel.task_checkpoints(task=task)
    checkins = sel.task_checkins(task=task)
    is_worker = task.worker_id == actor.pk
    next_point = next((r["checkpoint"] for r in points if r["checkin"] is None), None)
    ctx = {
        "task": task, "points": points, "checkins": checkins, "findings": sel.task_findings(task=task),
        "is_worker": is_worker, "can_act": is_worker and task.status == TaskStatus.IN_PROGRESS,
        "can_manage": task.status == TaskStatus.PLANNED and _may_manage(actor, task),
        "next_point": next_point, "categories": case_selectors.category_list() if is_worker else [],
        "photo_base": reverse("console:patrols_photo", args=[task.pk]),
        "map_url": reverse("console:patrols_task_map", args=[task.pk]),
        "workers": sel.worker_choices(actor=actor, region=task.region) if task.status == TaskStatus.PLANNED and _may_manage(actor, task) else [],
        "posted": {}, "duplicates": [], "held": "",
    }
    ctx.update(extra)
    return ctx


def _may_manage(actor, task: PatrolTask) -> bool:
    try:
        svc.check_manage(actor, task.region)
    except DomainError:
        return False
    return True


@require_GET
@console_view
def task_detail(request, task_id: int):
    task = sel.task_get(actor=request.user, task_id=task_id)
    return render(request, "console/patrols/task.html", _task_context(request, task))


@require_GET
@console_view
def task_map(request, task_id: int):
    """GeoJSON-ish data of one task: its grid, the route's checkpoints (reached or not) and the check-ins."""
    task = sel.task_get(actor=request.user, task_id=task_id)
    from linli.places import geojson

    return JsonResponse({
        "boundaries": geojson.feature_collection([task.region] if task.region.boundary else []),
        "checkpoints": [{"id": r["checkpoint"].pk, "seq": r["checkpoint"].seq, "name": r["checkpoint"].name, "lat": r["checkpoint"].lat,
                         "lng": r["checkpoint"].lng, "radius": r["checkpoint"].tolerance_m, "reached": bool(r["checkin"] and not r["checkin"].off_route)}
                        for r in sel.task_checkpoints(task=task)],
        "checkins": [{"lat": c.lat, "lng": c.lng, "at": timezone.localtime(c.at).strftime("%H:%M"), "off_route": c.off_route,
                      "name": c.checkpoint.name if c.checkpoint_id else _("自由打卡")} for c in sel.task_checkins(task=task)],
    })


@require_GET
@console_view
def task_photo(request, task_id: int):
    task = sel.task_get(actor=request.user, task_id=task_id)
    ref = request.GET.get("ref", "")
    if ref not in sel.checkin_photo_refs(task=task) or ref.startswith(("http://", "https://")) or not default_storage.exists(ref):
        raise Http404
    return FileResponse(default_storage.open(ref, "rb"), content_type=mimetypes.guess_type(ref)[0] or "application/octet-stream")


def _fail(request, task: PatrolTask, exc: DomainError, form: str, **extra):
    task = sel.task_get(actor=request.user, task_id=task.pk)
    ctx = _task_context(request, task, error=exc, failed=form, posted=request.POST, **extra)
    return render(request, "console/patrols/task.html", ctx, status=exc.status)


def _done(request, task: PatrolTask, text: str):
    messages.success(request, text)
    return HttpResponseRedirect(reverse("console:patrols_task", args=[task.pk]))


@require_POST
@console_view
def task_start(request, task_id: int):
    task = sel.task_get(actor=request.user, task_id=task_id)
    try:
        svc.task_start(actor=request.user, task=task)
    except DomainError as exc:
        return _fail(request, task, exc, "start")
    return _done(request, task, _("已开始巡查，请到各点位打卡"))


@require_POST
@console_view
def task_check_in(request, task_id: int):
    actor, p = request.user, request.POST
    task = sel.task_get(actor=actor, task_id=task_id)
    try:
        lat, lng = float_or_none(p.get("lat")), float_or_none(p.get("lng"))
        if lat is None or lng is None:
            raise Invalid("patrol.location_required", Msg("请先获取定位，或在地图上点选您的位置", "Get your location or pick it on the map"))
        checkpoint = sel.checkpoint_ref(task=task, checkpoint_id=int_or_none(p.get("checkpoint")))
        with stored_photos(request.FILES.getlist("photos"), prefix=PHOTO_PREFIX) as photos:
            c = svc.task_check_in(actor=actor, task=task, lat=lat, lng=lng, accuracy_m=float_or_none(p.get("accuracy")), checkpoint=checkpoint,
                                  photos=photos, note=p.get("note", ""), source="map" if p.get("source") == "map" else "gps")
    except DomainError as exc:
        return _fail(request, task, exc, "checkin")
    where = c.checkpoint.name if c.checkpoint_id else _("自由打卡点")
    if c.off_route:
        messages.warning(request, _("已打卡（%(where)s），但距离约 %(m)s 米，超出范围，记为偏离路线") % {"where": where, "m": round(c.distance_m or 0)})
        return HttpResponseRedirect(reverse("console:patrols_task", args=[task.pk]))
    return _done(request, task, _("已在%(where)s打卡") % {"where": where})


def _held_photos(value: str) -> list[str]:
    """Photos stored on an earlier attempt of the same finding (signed, so only our own references)."""
    if not value:
        return []
    try:
        refs = signing.loads(value, salt=HELD_SALT, max_age=3600)
    except signing.BadSignature:
        return []
    return [r for r in refs if isinstance(r, str) and r.startswith(f"{PHOTO_PREFIX}/")]


@require_POST
@console_view
def task_finding(request, task_id: int):
    """发现问题，一键上报. When open cases of the kind are nearby, the page offers them; the photos are
    held (signed references) for the second step: confirm a new case or add to an existing one."""
    actor, p = request.user, request.POST
    task = sel.task_get(actor=actor, task_id=task_id)
    held = _held_photos(p.get("held", ""))
    new_refs: list[str] = []
    try:
        category = case_selectors.category_get(category_id=int_or_none(p.get("category")) or 0)
        checkin = sel.checkin_get(task=task, checkin_id=int_or_none(p.get("checkin")))
        add_to = case_selectors.case_get(actor=actor, case_id=int_or_none(p.get("add_to")) or 0) if p.get("add_to") else None
        new_refs = save_photos(request.FILES.getlist("photos"), prefix=PHOTO_PREFIX)
        finding = svc.finding_report(
            actor=actor, task=task, category=category, title=p.get("title", ""), description=p.get("description", ""), checkin=checkin,
            lat=float_or_none(p.get("lat")), lng=float_or_none(p.get("lng")), photos=[*held, *new_refs], confirm_new=p.get("confirm_new") == "1",
            add_to=add_to,
        )
    except DomainError as exc:
        if isinstance(exc, Conflict) and exc.code == "patrol.duplicate_candidates":
            return _fail(request, task, exc, "finding", duplicates=exc.detail["candidates"],
                         held=signing.dumps([*held, *new_refs], salt=HELD_SALT), held_count=len(held) + len(new_refs))
        for ref in new_refs:
            default_storage.delete(ref)
        return _fail(request, task, exc, "finding", held=p.get("held", "") if held else "", held_count=len(held))
    number = finding.case.number
    text = _("已补充到工单 %(number)s") if finding.added_to_existing else _("已上报为事件工单 %(number)s")
    return _done(request, task, text % {"number": number})


@require_POST
@console_view
def task_finish(request, task_id: int):
    task = sel.task_get(actor=request.user, task_id=task_id)
    try:
        svc.task_finish(actor=request.user, task=task, note=request.POST.get("note", ""))
    except DomainError as exc:
        return _fail(request, task, exc, "finish")
    return _done(request, task, _("巡查已完成"))


@require_POST
@console_view
def task_manage(request, task_id: int, action: str):
    actor = request.user
    task = sel.task_get(actor=actor, task_id=task_id)
    try:
        if action == "cancel":
            svc.task_cancel(actor=actor, task=task, note=request.POST.get("note", ""))
            text = _("任务已取消")
        elif action == "assign":
            worker = sel.account_ref(account_id=int_or_none(request.POST.get("worker")) or 0)
            svc.task_assign(actor=actor, task=task, worker=worker)
            text = _("已改派给 %(name)s") % {"name": worker}
        else:
            raise Http404
    except DomainError as exc:
        return _fail(request, task, exc, action)
    return _done(request, task, text)


# ---- routes ------------------------------------------------------------------------------------------------------


@require_GET
@console_view
def route_list(request):
    actor = request.user
    if not (_can(actor, P.VIEW) or _can(actor, P.MANAGE)):
        check_perm_anywhere(actor, P.VIEW)
    qs = sel.route_list(actor=actor, q=request.GET.get("q") or None)
    rows, next_cursor = paginate(qs, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, order="-id")
    return render(request, "console/patrols/routes.html", {
        "rows": rows, "next_cursor": next_cursor, "is_first_page": not request.GET.get("cursor"), "q": request.GET.get("q", ""),
        "manages": _can(actor, P.MANAGE),
    })


def _posted_points(post) -> list[svc.CheckpointIn]:
    """Rows of the checkpoint table (cp_name, cp_lat, cp_lng, cp_tol, cp_id); blank rows are skipped."""
    names, lats, lngs, tols, ids = (post.getlist(k) for k in ("cp_name", "cp_lat", "cp_lng", "cp_tol", "cp_id"))
    out = []
    for i, name in enumerate(names):
        lat, lng = float_or_none(lats[i] if i < len(lats) else None), float_or_none(lngs[i] if i < len(lngs) else None)
        if not name.strip() and lat is None and lng is None:
            continue
        if lat is None or lng is None:
            raise Invalid("patrol.checkpoint_invalid", Msg("第{n}个点位缺少经纬度", "Checkpoint {n} has no latitude/longitude"), n=len(out) + 1)
        out.append(svc.CheckpointIn(name, lat, lng, int_or_none(tols[i] if i < len(tols) else None), None, None, int_or_none(ids[i] if i < len(ids) else None)))
    return out


@require_http_methods(["GET", "POST"])
@console_view
def route_edit(request, route_id: int | None = None):
    actor = request.user
    check_perm_anywhere(actor, P.MANAGE)
    route = sel.route_get(actor=actor, route_id=route_id) if route_id else None
    if route is not None:
        svc.check_manage(actor, route.region)
    ctx = {"route": route, "regions": sel.manage_regions(actor=actor), "points": list(route.active_checkpoints) if route else [], "posted": {}}
    if request.method == "POST":
        p = request.POST
        try:
            points = _posted_points(p)
            fields = dict(name=p.get("name", ""), description=p.get("description", ""), tolerance_m=int_or_none(p.get("tolerance_m")) or 0,
                          allow_repeat_checkins=p.get("allow_repeat_checkins") == "on", checkpoints=points)
            region = sel.region_ref(region_id=int_or_none(p.get("region")) or 0)
            if route is None:
                route = svc.route_create(actor=actor, region=region, **fields)
            else:
                route = svc.route_update(actor=actor, route=route, region=region, is_active=p.get("is_active") == "on", **fields)
        except DomainError as exc:
            ctx.update(error=exc, posted=p, points=_redisplay(p))
            return render(request, "console/patrols/route_form.html", ctx, status=exc.status)
        messages.success(request, _("路线已保存"))
        return HttpResponseRedirect(reverse("console:patrols_route", args=[route.pk]))
    return render(request, "console/patrols/route_form.html", ctx)


def _redisplay(post) -> list[dict]:
    keys = ("cp_name", "cp_lat", "cp_lng", "cp_tol", "cp_id")
    cols = [post.getlist(k) for k in keys]
    rows = []
    for i in range(len(cols[0])):
        row = {k.removeprefix("cp_"): (c[i] if i < len(c) else "") for k, c in zip(keys, cols, strict=True)}
        if any(row[k] for k in ("name", "lat", "lng")):
            rows.append({"name": row["name"], "lat": row["lat"], "lng": row["lng"], "tolerance_m": row["tol"], "pk": row["id"]})
    return rows


@require_GET
@console_view
def route_map(request):
    """Grid boundaries in scope for the route editor's map."""
    return JsonResponse(sel.grid_boundaries(actor=request.user))


# ---- planning ----------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@console_view
def plan(request):
    actor = request.user
    check_perm_anywhere(actor, P.MANAGE)
    routes = list(sel.route_list(actor=actor, is_active=True).order_by("region__path", "name")[:300])
    ctx = {"routes": routes, "workers": sel.worker_choices(actor=actor), "weekdays": WEEKDAYS, "posted": {}, "posted_weekdays": [], "today": timezone.localdate()}
    if request.method == "POST":
        p = request.POST
        try:
            route = sel.route_get(actor=actor, route_id=int_or_none(p.get("route")) or 0)
            worker = sel.account_ref(account_id=int_or_none(p.get("worker")) or 0)
            day, until = date_or(p.get("date")), date_or(p.get("date_to"))
            start, end = time_or_none(p.get("start")), time_or_none(p.get("end"))
            if day is None or start is None or end is None:
                raise Invalid("patrol.plan_incomplete", Msg("请填写日期和时段", "Give the date and the time window"))
            repeat = p.get("repeat", "once")
            if repeat == "once":
                svc.task_plan(actor=actor, route=route, worker=worker, date=day, start=start, end=end)
                n = 1
            else:
                n = len(svc.task_plan_recurring(actor=actor, route=route, worker=worker, date_from=day, date_to=until or day, start=start, end=end,
                                                frequency=repeat, weekdays=[int(d) for d in p.getlist("weekdays") if d.isdigit()]))
        except DomainError as exc:
            ctx.update(error=exc, posted=p, posted_weekdays=p.getlist("weekdays"))
            return render(request, "console/patrols/plan.html", ctx, status=exc.status)
        messages.success(request, _("已排班 %(n)s 个任务") % {"n": n})
        return HttpResponseRedirect(f"{reverse('console:patrols_home')}?date={day}")
    return render(request, "console/patrols/plan.html", ctx)


# ---- who patrolled where ------------------------------------------------------------------------------------------


@require_GET
@console_view
def patrol_map(request):
    actor = request.user
    check_perm_anywhere(actor, P.VIEW)
    day = date_or(request.GET.get("date"), timezone.localdate())
    worker = int_or_none(request.GET.get("worker"))
    coverage = sel.coverage(actor=actor, date_from=day, date_to=day, worker_id=worker)
    return render(request, "console/patrols/map.html", {
        "day": day, "worker": worker, "workers": sel.worker_choices(actor=actor, perm=P.VIEW), "coverage": coverage,
        "data_url": f"{reverse('console:patrols_map_data')}?date={day}" + (f"&worker={worker}" if worker else ""),
        "prev": day - dt.timedelta(days=1), "next": day + dt.timedelta(days=1) if day < timezone.localdate() else None,
    })


@require_GET
@console_view
def patrol_map_data(request):
    """Grid boundaries, each worker's check-ins of the day in time order (the path), and the checkpoints
    of the routes patrolled that day (reached or not)."""
    actor = request.user
    check_perm_anywhere(actor, P.VIEW)
    day = date_or(request.GET.get("date"), timezone.localdate())
    tracks = sel.tracks(actor=actor, day=day, worker_id=int_or_none(request.GET.get("worker")))
    out = []
    for i, t in enumerate(tracks):
        w = t["worker"]
        out.append({"worker": w.display_name or w.username, "colour": TRACK_COLOURS[i % len(TRACK_COLOURS)],
                    "points": [{"lat": c.lat, "lng": c.lng, "at": timezone.localtime(c.at).strftime("%H:%M"), "off_route": c.off_route,
                                "route": c.task.route.name, "name": c.checkpoint.name if c.checkpoint_id else _("自由打卡"),
                                "url": reverse("console:patrols_task", args=[c.task_id])} for c in t["points"]]})
    return JsonResponse({"boundaries": sel.grid_boundaries(actor=actor), "tracks": out,
                         "checkpoints": sel.day_checkpoints(actor=actor, day=day, worker_id=int_or_none(request.GET.get("worker")))})
