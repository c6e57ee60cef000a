"""Grid patrols (C6): routes, planning, every task transition with its permission, check-ins and the
off-route flag, findings that become cases (C1 channel patrol), the missed sweep."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction

from linli.audit.models import AuditEntry
from linli.cases.models import Case, CaseEvent, Category, Channel
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.orgs.models import Role
from linli.patrols import services as svc
from linli.patrols.models import CheckIn, Checkpoint, Finding, PatrolTask, TaskStatus
from tests import factories as f

from .world import NOW, POINTS_A

pytestmark = pytest.mark.django_db
T = TaskStatus


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def started(w, **kw) -> PatrolTask:
    task = w.task(**kw)
    return svc.task_start(actor=task.worker, task=task)


def cp(w, i: int) -> Checkpoint:
    return w.route_a.checkpoints.get(seq=i + 1, is_active=True)


# ---- roles and routes ---------------------------------------------------------------------------------------


def test_C6_seeded_roles_grant_perform_to_grid_workers_and_manage_to_community_staff(world):
    assert "patrol.perform" in Role.objects.get(code="grid_worker").permissions
    community = Role.objects.get(code="community_worker").permissions
    assert {"patrol.view", "patrol.manage"} <= set(community) and "patrol.perform" not in community
    assert {"patrol.view", "patrol.manage"} <= set(Role.objects.get(code="district_admin").permissions)


def test_C6_route_create_keeps_order_and_is_scoped_and_audited(world):
    w = world
    assert [(c.seq, c.name) for c in w.route_a.checkpoints.order_by("seq")] == [(i + 1, n) for i, (n, _a, _b) in enumerate(POINTS_A)]
    assert AuditEntry.objects.filter(action="patrol.route_create", object_id=str(w.route_a.pk)).exists()
    pts = [svc.CheckpointIn("东门", 36.652, 117.002)]
    with pytest.raises(NotFound):
        svc.route_create(actor=w.manager_b, region=w.tree.grid_a, name="越界路线", checkpoints=pts)
    for actor in (w.viewer, w.gw_a, w.outsider):
        with pytest.raises(Forbidden):
            svc.route_create(actor=actor, region=w.tree.grid_a, name="无权路线", checkpoints=pts)
    with pytest.raises(Conflict) as e:
        svc.route_create(actor=w.manager_a, region=w.tree.grid_a, name="甲一网格日常巡查", checkpoints=pts)
    assert e.value.code == "patrol.route_name_taken"
    with pytest.raises(Invalid) as e:
        svc.route_create(actor=w.manager_a, region=w.tree.grid_a, name="坏半径", checkpoints=[svc.CheckpointIn("x", 36.652, 117.002, 2)])
    assert e.value.code == "patrol.tolerance_invalid"
    with pytest.raises(Invalid):
        svc.route_create(actor=w.manager_a, region=w.tree.grid_a, name="坏坐标", checkpoints=[svc.CheckpointIn("x", 95, 117.0)])
    other_grid_house = f.house(w.tree.grid_b)
    with pytest.raises(Invalid) as e:
        svc.route_create(actor=w.manager_a, region=w.tree.grid_a, name="外网格房屋",
                         checkpoints=[svc.CheckpointIn("x", 36.652, 117.002, house_id=other_grid_house.pk)])
    assert e.value.code == "patrol.house_invalid"


def test_C6_route_update_replaces_checkpoints_and_retires_used_ones(world):
    w = world
    task = started(w)
    first = cp(w, 0)
    svc.task_check_in(actor=w.gw_a, task=task, lat=first.lat, lng=first.lng, checkpoint=first)
    keep = cp(w, 2)
    svc.route_update(actor=w.manager_a, route=w.route_a, name="甲一网格夜间巡查", checkpoints=[
        svc.CheckpointIn(keep.name, keep.lat, keep.lng, keep.tolerance_m, id=keep.pk),
        svc.CheckpointIn("新点位", 36.658, 117.003, 30),
    ])
    active = list(w.route_a.checkpoints.filter(is_active=True).order_by("seq"))
    assert [(c.seq, c.name) for c in active] == [(1, "北侧车棚"), (2, "新点位")] and active[0].pk == keep.pk
    first.refresh_from_db()
    assert first.is_active is False  # retired: a check-in refers to it
    assert not Checkpoint.objects.filter(route=w.route_a, name="中心花园").exists()  # unused: deleted
    with pytest.raises(NotFound):
        svc.route_update(actor=w.manager_b, route=w.route_a, name="x")
    with pytest.raises(Invalid) as e:
        svc.route_update(actor=w.manager_a, route=w.route_a, checkpoints=[svc.CheckpointIn("x", 36.65, 117.0, id=999999)])
    assert e.value.code == "patrol.checkpoint_unknown"


# ---- planning -------------------------------------------------------------------------------------------------


def test_C6_plan_checks_worker_scope_window_and_duplicates(world):
    w = world
    task = w.task()
    assert task.status == T.PLANNED and task.checkpoint_total == 3 and task.region == w.tree.grid_a
    assert AuditEntry.objects.filter(action="patrol.task_plan", object_id=str(task.pk)).exists()
    with pytest.raises(Conflict):
        w.task()
    with pytest.raises(Invalid) as e:
        w.task(worker=w.gw_b)
    assert e.value.code == "patrol.worker_out_of_scope"
    with pytest.raises(Invalid) as e:
        svc.task_plan(actor=w.manager_a, route=w.route_a, worker=w.gw_a, date=NOW.date(), start=dt.time(6), end=dt.time(7))
    assert e.value.code == "patrol.window_past"
    with pytest.raises(Invalid):
        w.task(start=dt.time(12), end=dt.time(11))
    with pytest.raises(Forbidden):
        svc.task_plan(actor=w.gw_a, route=w.route_a, worker=w.gw_a, date=NOW.date(), start=dt.time(13), end=dt.time(14))
    with pytest.raises(NotFound):
        svc.task_plan(actor=w.manager_b, route=w.route_a, worker=w.gw_a, date=NOW.date(), start=dt.time(13), end=dt.time(14))


def test_C6_recurring_daily_and_weekly_generation_is_idempotent(world):
    w = world
    kw = dict(actor=w.manager_a, route=w.route_a, worker=w.gw_a, start=dt.time(14), end=dt.time(16))
    created = svc.task_plan_recurring(date_from=NOW.date(), date_to=NOW.date() + dt.timedelta(days=6), frequency="daily", **kw)
    assert len(created) == 7 and len({t.date for t in created}) == 7
    again = svc.task_plan_recurring(date_from=NOW.date(), date_to=NOW.date() + dt.timedelta(days=6), frequency="daily", **kw)
    assert again == [] and PatrolTask.objects.count() == 7
    weekly = svc.task_plan_recurring(date_from=NOW.date(), date_to=NOW.date() + dt.timedelta(days=27), frequency="weekly",
                                     weekdays=[0, 4], **{**kw, "start": dt.time(19), "end": dt.time(20)})
    assert {t.date.weekday() for t in weekly} == {0, 4} and len(weekly) == 8
    past = svc.task_plan_recurring(date_from=NOW.date() - dt.timedelta(days=3), date_to=NOW.date(), frequency="daily",
                                   **{**kw, "start": dt.time(7), "end": dt.time(8)})
    assert past == []  # windows already over are skipped
    for bad in ({"frequency": "hourly"}, {"frequency": "weekly", "weekdays": []}, {"frequency": "weekly", "weekdays": [7]}):
        with pytest.raises(Invalid):
            svc.task_plan_recurring(date_from=NOW.date(), date_to=NOW.date(), **{**kw, **bad})
    with pytest.raises(Invalid) as e:
        svc.task_plan_recurring(date_from=NOW.date(), date_to=NOW.date() + dt.timedelta(days=200), **kw)
    assert e.value.code == "patrol.range_too_long"


def test_C6_assign_and_cancel_are_for_managers_of_planned_tasks(world):
    w = world
    gw_a2 = f.account("gw_a2", perms=["patrol.perform"], scope=w.tree.grid_a)
    task = w.task()
    with pytest.raises(Forbidden):
        svc.task_assign(actor=w.gw_a, task=task, worker=gw_a2)
    with pytest.raises(NotFound):
        svc.task_assign(actor=w.manager_b, task=task, worker=gw_a2)
    with pytest.raises(Forbidden):
        svc.task_cancel(actor=w.viewer, task=task)
    task = svc.task_assign(actor=w.manager_a, task=task, worker=gw_a2)
    assert task.worker == gw_a2
    task = svc.task_cancel(actor=w.manager_a, task=task, note="暴雨停巡")
    assert task.status == T.CANCELLED
    with pytest.raises(Conflict):
        svc.task_cancel(actor=w.manager_a, task=task)
    running = started(w)
    with pytest.raises(Conflict) as e:
        svc.task_cancel(actor=w.manager_a, task=running)
    assert e.value.code == "patrol.invalid_transition"


# ---- doing the patrol -------------------------------------------------------------------------------------------


def test_C6_lifecycle_planned_in_progress_done_with_coverage(world):
    w = world
    task = started(w)
    assert task.status == T.IN_PROGRESS and task.started_at == NOW
    for i in range(3):
        p = cp(w, i)
        c = svc.task_check_in(actor=w.gw_a, task=task, lat=p.lat + 0.0001, lng=p.lng, accuracy_m=8, checkpoint=p, photos=[f"patrols/p{i}.jpg"])
        assert c.off_route is False and 10 < c.distance_m < 12
    task.refresh_from_db()
    assert task.visited_count == 3 and task.coverage == 100
    task = svc.task_finish(actor=w.gw_a, task=task)
    assert task.status == T.DONE and task.finished_at == NOW
    actions = set(AuditEntry.objects.filter(action__startswith="patrol.").values_list("action", flat=True))
    assert {"patrol.task_start", "patrol.check_in", "patrol.task_finish"} <= actions
    for fn in (svc.task_start, svc.task_finish):
        with pytest.raises(Conflict):
            fn(actor=w.gw_a, task=task)
    with pytest.raises(Conflict):
        svc.task_check_in(actor=w.gw_a, task=task, lat=36.652, lng=117.002)


def test_C6_only_the_assigned_worker_acts_others_get_403_or_404(world):
    w = world
    task = w.task()
    with pytest.raises(Forbidden) as e:
        svc.task_start(actor=w.manager_a, task=task)
    assert e.value.code == "patrol.not_your_task"
    with pytest.raises(Forbidden):
        svc.task_start(actor=w.viewer, task=task)
    for actor in (w.gw_b, w.manager_b, w.outsider):
        with pytest.raises(NotFound):
            svc.task_start(actor=actor, task=task)
    with pytest.raises(Conflict):  # a planned task cannot be checked in or finished
        svc.task_check_in(actor=w.gw_a, task=task, lat=36.652, lng=117.002)
    with pytest.raises(Conflict):
        svc.task_finish(actor=w.gw_a, task=task, note="x")
    task = svc.task_start(actor=w.gw_a, task=task)
    with pytest.raises(NotFound):
        svc.task_check_in(actor=w.gw_b, task=task, lat=36.652, lng=117.002)
    with pytest.raises(Forbidden):
        svc.task_finish(actor=w.manager_a, task=task, note="x")


def test_C6_start_window_too_early_and_over(world, clock):
    w = world
    task = w.task(start=dt.time(15), end=dt.time(17))
    with pytest.raises(Conflict) as e:
        svc.task_start(actor=w.gw_a, task=task)
    assert e.value.code == "patrol.too_early"
    clock.move_to(NOW.replace(hour=14, minute=10))
    assert svc.task_start(actor=w.gw_a, task=task).status == T.IN_PROGRESS  # up to an hour early is fine
    late = w.task(start=dt.time(17, 30), end=dt.time(18))
    clock.move_to(NOW.replace(hour=18, minute=5))
    with pytest.raises(Conflict) as e:
        svc.task_start(actor=w.gw_a, task=late)
    assert e.value.code == "patrol.window_over"


def test_C6_checkin_outside_radius_is_flagged_off_route(world):
    w = world
    task = started(w)
    p = cp(w, 0)
    far = svc.task_check_in(actor=w.gw_a, task=task, lat=p.lat + 0.002, lng=p.lng, checkpoint=p)  # ≈ 222 m north
    assert far.off_route is True and 200 < far.distance_m < 240
    task.refresh_from_db()
    assert task.visited_count == 0  # an off-route check-in does not count as reaching the checkpoint


def test_C6_free_point_matches_nearest_checkpoint_or_measures_distance_to_path(world):
    w = world
    task = started(w)
    second = cp(w, 1)
    matched = svc.task_check_in(actor=w.gw_a, task=task, lat=second.lat, lng=second.lng + 0.0002)  # ≈ 18 m away, no checkpoint given
    assert matched.checkpoint == second and matched.off_route is False
    on_path = svc.task_check_in(actor=w.gw_a, task=task, lat=36.6521, lng=117.004)  # between 东门 and 中心花园, ≈ 11 m off the line
    assert on_path.checkpoint is None and on_path.off_route is False and on_path.distance_m < 20
    away = svc.task_check_in(actor=w.gw_a, task=task, lat=36.659, lng=117.0005, source="map")
    assert away.checkpoint is None and away.off_route is True and away.distance_m > 300 and away.source == "map"


def test_C6_one_checkin_per_checkpoint_unless_the_route_allows_repeats(world):
    w = world
    task = started(w)
    p = cp(w, 0)
    svc.task_check_in(actor=w.gw_a, task=task, lat=p.lat, lng=p.lng, checkpoint=p)
    with pytest.raises(Conflict) as e:
        svc.task_check_in(actor=w.gw_a, task=task, lat=p.lat, lng=p.lng, checkpoint=p)
    assert e.value.code == "patrol.already_checked_in"
    with pytest.raises(IntegrityError), transaction.atomic():  # the database says so too
        CheckIn.objects.create(task=task, checkpoint=p, lat=p.lat, lng=p.lng, at=NOW)
    svc.route_update(actor=w.manager_a, route=w.route_a, allow_repeat_checkins=True)
    again = svc.task_check_in(actor=w.gw_a, task=task, lat=p.lat, lng=p.lng, checkpoint=p)
    assert again.is_repeat is True
    task.refresh_from_db()
    assert task.visited_count == 1


def test_C6_checkin_input_errors_are_4xx(world):
    w = world
    task = started(w)
    other = svc.route_create(actor=w.manager_a, region=w.tree.grid_a, name="另一路线", checkpoints=[svc.CheckpointIn("x", 36.651, 117.001)])
    bad = [dict(lat=91, lng=117.0), dict(lat=36.65, lng=117.0, accuracy_m=-1), dict(lat=36.65, lng=117.0, source="wifi"),
           dict(lat=36.65, lng=117.0, checkpoint=other.checkpoints.get()), dict(lat=36.65, lng=117.0, photos=["../etc/passwd"]),
           dict(lat=36.65, lng=117.0, photos=[f"p{i}.jpg" for i in range(10)])]
    for kw in bad:
        with pytest.raises(Invalid):
            svc.task_check_in(actor=w.gw_a, task=task, **kw)
    assert CheckIn.objects.count() == 0


def test_C6_finish_with_unreached_checkpoints_needs_a_reason(world):
    w = world
    task = started(w)
    with pytest.raises(Invalid) as e:
        svc.task_finish(actor=w.gw_a, task=task)
    assert e.value.code == "patrol.note_required" and e.value.detail == {"missing": 3}
    task = svc.task_finish(actor=w.gw_a, task=task, note="北侧施工封闭")
    assert task.status == T.DONE and task.note == "北侧施工封闭" and task.coverage == 0


# ---- findings → cases ------------------------------------------------------------------------------------------


def test_C6_finding_becomes_a_patrol_case_with_the_checkins_place_and_photo(world):
    w = world
    task = started(w)
    p = cp(w, 1)
    checkin = svc.task_check_in(actor=w.gw_a, task=task, lat=p.lat, lng=p.lng, checkpoint=p, photos=["patrols/2026/12/well.jpg"])
    cat = Category.objects.get(code="facility-road")
    finding = svc.finding_report(actor=w.gw_a, task=task, category=cat, title="井盖松动", description="中心花园南侧",
                                 checkin=checkin, photos=["patrols/2026/12/close.jpg"])
    case = finding.case
    assert case.channel == Channel.PATROL and case.category == cat and case.region == w.tree.grid_a
    assert (case.lat, case.lng) == (p.lat, p.lng) and case.photos == ["patrols/2026/12/well.jpg", "patrols/2026/12/close.jpg"]
    assert case.intake_by == w.gw_a and "甲一网格日常巡查" in case.description and "中心花园" in case.description
    assert CaseEvent.objects.get(case=case, seq=1).photos == case.photos
    assert finding.checkin == checkin and finding.added_to_existing is False
    assert AuditEntry.objects.filter(action="patrol.finding_report").exists()


def test_C6_finding_offers_duplicates_then_confirms_or_adds_to_existing(world):
    w = world
    task = started(w)
    cat = Category.objects.get(code="facility-road")
    first = svc.finding_report(actor=w.gw_a, task=task, category=cat, title="路面塌陷", lat=36.653, lng=117.003)
    with pytest.raises(Conflict) as e:
        svc.finding_report(actor=w.gw_a, task=task, category=cat, title="路面塌陷", lat=36.6531, lng=117.003)
    assert e.value.code == "patrol.duplicate_candidates"
    assert [c["id"] for c in e.value.detail["candidates"]] == [first.case_id]
    assert Case.objects.count() == 1
    again = svc.finding_report(actor=w.gw_a, task=task, category=cat, title="路面塌陷（另一处）", lat=36.6531, lng=117.003, confirm_new=True)
    assert again.case_id != first.case_id and Case.objects.count() == 2
    task2 = started(w, start=dt.time(9), end=dt.time(10))
    added = svc.finding_report(actor=w.gw_a, task=task2, category=cat, title="塌陷扩大", lat=36.6531, lng=117.003,
                               photos=["patrols/more.jpg"], add_to=first.case)
    assert added.case_id == first.case_id and added.added_to_existing is True
    comment = CaseEvent.objects.filter(case=first.case, kind="commented").get()
    assert comment.photos == ["patrols/more.jpg"] and "塌陷扩大" in comment.note


def test_C6_finding_needs_a_place_an_open_task_and_the_worker(world):
    w = world
    cat = Category.objects.get(code="facility-road")
    task = w.task()
    with pytest.raises(Conflict):
        svc.finding_report(actor=w.gw_a, task=task, category=cat, title="x", lat=36.653, lng=117.003)
    task = svc.task_start(actor=w.gw_a, task=task)
    with pytest.raises(Invalid) as e:
        svc.finding_report(actor=w.gw_a, task=task, category=cat, title="x")
    assert e.value.code == "patrol.location_required"
    with pytest.raises(Forbidden):
        svc.finding_report(actor=w.manager_a, task=task, category=cat, title="x", lat=36.653, lng=117.003)
    with pytest.raises(NotFound):
        svc.finding_report(actor=w.gw_b, task=task, category=cat, title="x", lat=36.653, lng=117.003)
    other = started(w, start=dt.time(9), end=dt.time(10))
    foreign = svc.task_check_in(actor=w.gw_a, task=other, lat=36.652, lng=117.002)
    with pytest.raises(Invalid):
        svc.finding_report(actor=w.gw_a, task=task, category=cat, title="x", checkin=foreign)
    assert not Finding.objects.exists() and not Case.objects.exists()


# ---- missed sweep -----------------------------------------------------------------------------------------------


def test_C6_missed_sweep_marks_unfinished_past_windows_once(world, clock):
    w = world
    planned = w.task(start=dt.time(8, 30), end=dt.time(10))
    running = started(w, start=dt.time(8, 45), end=dt.time(10))
    done = svc.task_finish(actor=w.gw_a, task=started(w, start=dt.time(8, 50), end=dt.time(10)), note="提前收工")
    later = w.task(start=dt.time(10, 30), end=dt.time(12))
    clock.move_to(NOW.replace(hour=10, minute=20))
    assert svc.sweep_missed() == 0  # inside the 30-minute grace
    clock.move_to(NOW.replace(hour=10, minute=31))
    assert svc.sweep_missed() == 2
    assert svc.sweep_missed() == 0  # idempotent
    status = dict(PatrolTask.objects.values_list("pk", "status"))
    assert status[planned.pk] == status[running.pk] == T.MISSED
    assert status[done.pk] == T.DONE and status[later.pk] == T.PLANNED
    assert PatrolTask.objects.get(pk=running.pk).missed_at == NOW.replace(hour=10, minute=31)
    assert AuditEntry.objects.filter(action="patrol.sweep_missed").count() == 1
    with pytest.raises(Conflict):
        svc.task_start(actor=w.gw_a, task=planned)


def test_C6_sweep_task_and_schedule_are_declared(world, clock):
    from linli.patrols import schedules, tasks

    w = world
    w.task(start=dt.time(8, 30), end=dt.time(9))
    clock.move_to(NOW.replace(hour=12))
    assert schedules.SCHEDULES == [("patrols.sweep_missed", "linli.patrols.tasks.sweep_missed_tasks", 300)]
    assert tasks.sweep_missed_tasks.enqueue().return_value == 1
    assert tasks.sweep_missed_tasks.enqueue().return_value == 0


def test_C6_database_rejects_invalid_status_and_window(world):
    w = world
    task = w.task()
    with pytest.raises(IntegrityError), transaction.atomic():
        PatrolTask.objects.filter(pk=task.pk).update(status="lost")
    with pytest.raises(IntegrityError), transaction.atomic():
        PatrolTask.objects.filter(pk=task.pk).update(window_end=task.window_start)
    with pytest.raises(IntegrityError), transaction.atomic():
        PatrolTask.objects.filter(pk=task.pk).update(status="done")  # done without a finish time
