"""The scheduler (linli.core.schedule, manage.py scheduler): discovery of ``<app>.schedules``,
one enqueue per (schedule, slot) across restarts and processes, no catch-up storm after downtime."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.tasks import task

from linli.core import schedule
from linli.core.models import ScheduleSlot

pytestmark = pytest.mark.django_db

RUNS: list[str] = []
STOP = threading.Event()
T0 = dt.datetime(2026, 12, 2, 8, 0, 30, tzinfo=dt.UTC)


@task()
def probe_task() -> int:
    RUNS.append("probe")
    STOP.set()
    return len(RUNS)


@task()
def needs_argument(n: int) -> int:
    return n


PROBE = schedule.Schedule("test.probe", "tests.core.test_schedule.probe_task", 60)


@pytest.fixture(autouse=True)
def _reset():
    RUNS.clear()
    STOP.clear()


def test_discovery_finds_the_apps_schedules_and_validates_their_tasks():
    found = {s.name: s for s in schedule.discover()}
    assert found["cases.sla_sweep"].path == "linli.cases.tasks.sweep_overdue" and found["cases.sla_sweep"].every == 60
    assert {"cases.alarm_intake", "iot.offline_sweep", "iot.command_timeouts"} <= set(found)
    for s in found.values():
        assert s.task() is not None  # importable django.tasks tasks without arguments


@pytest.mark.parametrize("entry, message", [
    (("x", "linli.cases.tasks.sweep_overdue"), "is not"),
    (("x", "linli.cases.tasks.sweep_overdue", 1), "interval"),
    (("x", "linli.cases.tasks.sweep_overdue", 60.5), "interval"),
    (("", "linli.cases.tasks.sweep_overdue", 60), "name"),
])
def test_a_malformed_entry_is_refused(entry, message):
    with pytest.raises(schedule.ScheduleError, match=message):
        schedule.parse([entry], origin="test")


def test_a_task_that_needs_arguments_or_does_not_exist_is_refused():
    with pytest.raises(schedule.ScheduleError, match="needs arguments"):
        schedule.Schedule("x", "tests.core.test_schedule.needs_argument", 60).task()
    with pytest.raises(schedule.ScheduleError, match="cannot import"):
        schedule.Schedule("x", "linli.cases.tasks.no_such_task", 60).task()
    with pytest.raises(schedule.ScheduleError, match="not a django.tasks task"):
        schedule.Schedule("x", "linli.core.schedule.tick", 60).task()


def test_one_slot_is_enqueued_once_however_often_it_is_ticked():
    assert schedule.tick([PROBE], T0) == ["test.probe"]
    assert schedule.tick([PROBE], T0 + dt.timedelta(seconds=20)) == []  # same minute
    assert RUNS == ["probe"]
    row = ScheduleSlot.objects.get()
    assert (row.name, row.slot, row.slot_at) == ("test.probe", int(T0.timestamp()) // 60, T0.replace(second=0))
    assert row.task_id  # the backend's id of the enqueued task
    assert schedule.tick([PROBE], T0 + dt.timedelta(seconds=30)) == ["test.probe"]  # next minute
    assert RUNS == ["probe", "probe"]


def test_a_restarted_or_second_scheduler_does_not_enqueue_a_claimed_slot_again():
    schedule.tick([PROBE], T0)
    restarted = schedule.Schedule("test.probe", "tests.core.test_schedule.probe_task", 60)  # a new process
    assert schedule.tick([restarted], T0 + dt.timedelta(seconds=1)) == []
    # the race: both saw the slot free, the other one inserted first → unique key, no second enqueue
    later = T0 + dt.timedelta(minutes=1)
    ScheduleSlot.objects.create(name="test.probe", slot=restarted.slot(later), slot_at=later, task_path=restarted.path)
    assert schedule.claim(restarted, later, precheck=False) is False
    assert RUNS == ["probe"]


def test_after_downtime_each_task_runs_once_not_once_per_missed_slot():
    schedule.tick([PROBE], T0)
    assert schedule.tick([PROBE], T0 + dt.timedelta(hours=3)) == ["test.probe"]
    assert RUNS == ["probe", "probe"]
    assert ScheduleSlot.objects.count() == 2


def test_old_slot_rows_are_pruned():
    schedule.tick([PROBE], T0)
    schedule.tick([PROBE], T0 + dt.timedelta(days=2))
    assert schedule.prune(T0 + dt.timedelta(days=2)) == 1
    assert ScheduleSlot.objects.count() == 1


def test_the_run_loop_ticks_until_stopped():
    with time_machine.travel(T0, tick=False):
        schedule.run([PROBE], stop=STOP, max_sleep=0.01)  # the probe task sets STOP
    assert RUNS == ["probe"]
    assert schedule.seconds_to_next_slot([PROBE], T0) == 30


def test_the_sweep_schedule_runs_the_case_sweep_through_the_scheduler():
    sweep = next(s for s in schedule.discover() if s.name == "cases.sla_sweep")
    with time_machine.travel(T0, tick=False):
        assert schedule.tick([sweep]) == ["cases.sla_sweep"]
        assert schedule.tick([sweep]) == []


def test_scheduler_command_lists_and_runs_once():
    out = StringIO()
    call_command("scheduler", "--list", stdout=out)
    assert "cases.sla_sweep\tevery 60s\tlinli.cases.tasks.sweep_overdue" in out.getvalue()
    out = StringIO()
    with time_machine.travel(T0, tick=False):
        call_command("scheduler", "--once", stdout=out)
        assert "cases.sla_sweep" in out.getvalue()
        out = StringIO()
        call_command("scheduler", "--once", stdout=out)
    assert "nothing due" in out.getvalue()


def test_scheduler_command_reports_a_bad_schedule(monkeypatch):
    def bad():
        raise schedule.ScheduleError("x: bad")

    monkeypatch.setattr(schedule, "discover", bad)
    with pytest.raises(CommandError, match="invalid schedule"):
        call_command("scheduler", "--once")
