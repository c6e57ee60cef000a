"""SLA sweep (C3): warning at 80 %, street at 100 %, district at 2×; idempotent; notifications."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from linli.audit.models import AuditEntry
from linli.cases import services as svc
from linli.cases.models import Case, CaseEvent, Notification
from linli.cases.notify import deliver
from linli.cases.sla import sweep
from linli.cases.tasks import sweep_overdue
from tests import factories as f

from .world import local, report

pytestmark = pytest.mark.django_db

START = local(2026, 11, 23, 8, 0)  # Monday; the urgent category counts 4 plain hours


def urgent_case(w):
    with time_machine.travel(START, tick=False):
        case = report(w, category=w.urgent)
        case = svc.case_accept(actor=w.worker_a, case=case)
        case = svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    assert case.due_at == START + dt.timedelta(hours=4)
    return case


def events(case, kind):
    return list(CaseEvent.objects.filter(case=case, kind=kind))


def notes(case, kind):
    return sorted(Notification.objects.filter(case=case, kind=kind).values_list("recipient__username", flat=True))


def test_C3_sweep_warns_at_80_percent_then_escalates_to_street_and_district(world):
    w = world
    case = urgent_case(w)
    with time_machine.travel(START + dt.timedelta(hours=3), tick=False):  # 75 %: nothing yet
        assert sweep() == {"warn": 0, "level1": 0, "level2": 0}
    with time_machine.travel(START + dt.timedelta(hours=3, minutes=13), tick=False):  # > 80 %
        assert sweep() == {"warn": 1, "level1": 0, "level2": 0}
    case.refresh_from_db()
    assert case.warned_at and case.escalation_level == 0
    assert len(events(case, "warned")) == 1
    assert notes(case, "warned") == ["gw_a", "handler"]  # assignee and the department's staff
    with time_machine.travel(START + dt.timedelta(hours=4, minutes=1), tick=False):
        assert sweep()["level1"] == 1
    case.refresh_from_db()
    assert case.escalation_level == 1
    # the street supervisor (role at the street) — not the district one yet
    assert notes(case, "escalated") == ["gw_a", "handler", "sup_street"]
    with time_machine.travel(START + dt.timedelta(hours=8, minutes=1), tick=False):
        assert sweep()["level2"] == 1
    case.refresh_from_db()
    assert case.escalation_level == 2
    assert sorted(set(notes(case, "escalated"))) == ["gw_a", "handler", "sup_district", "sup_street"]
    assert notes(case, "escalated").count("sup_district") == 1
    assert [e.data["level"] for e in events(case, "escalated")] == [1, 2]
    seqs = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert AuditEntry.objects.filter(action__startswith="case.sla.").count() == 3


def test_C3_sweep_is_idempotent(world):
    w = world
    case = urgent_case(w)
    later = START + dt.timedelta(hours=5)
    with time_machine.travel(later, tick=False):
        first = sweep()
        second = sweep()
        sweep_overdue.enqueue()  # the task (immediate backend in tests) runs the same sweep
    assert first == {"warn": 1, "level1": 1, "level2": 0}
    assert second == {"warn": 0, "level1": 0, "level2": 0}
    assert len(events(case, "escalated")) == 1
    assert len(events(case, "warned")) == 0  # already past due: the escalation speaks, not a warning
    assert Notification.objects.filter(case=case, kind="escalated", recipient=w.street_supervisor).count() == 1
    assert Notification.objects.filter(case=case, kind="warned").count() == 0


def test_C3_sweep_skips_resolved_and_handles_many_in_batches(world):
    w = world
    with time_machine.travel(START, tick=False):
        cases = [report(w, category=w.urgent, title=f"井盖{i}") for i in range(5)]
    done = cases[0]
    with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
        svc.case_accept(actor=w.worker_a, case=done)
        svc.case_dispatch(actor=w.worker_a, case=done, to=w.dept)
        svc.case_start(actor=w.handler, case=done)
        svc.case_resolve(actor=w.handler, case=done, note="已补装井盖")
    with time_machine.travel(START + dt.timedelta(hours=9), tick=False):
        counts = sweep(batch=2)
    assert counts == {"warn": 4, "level1": 4, "level2": 4}
    assert Case.objects.filter(escalation_level=2).count() == 4
    assert Case.objects.get(pk=done.pk).escalation_level == 0


def test_C3_reopen_resets_the_clock_and_escalation(world):
    w = world
    case = urgent_case(w)
    with time_machine.travel(START + dt.timedelta(hours=5), tick=False):
        sweep()
        svc.case_start(actor=w.handler, case=case)
        svc.case_resolve(actor=w.handler, case=case, note="ok")
        svc.case_verify(actor=w.grid_worker_a, case=case)
        case = svc.case_close(actor=w.worker_a, case=case)
    with time_machine.travel(START + dt.timedelta(hours=6), tick=False):
        case = svc.case_reopen(actor=w.worker_a, case=case, note="居民来电反映未修好")
        assert case.escalation_level == 0 and case.warned_at is None
        assert case.due_at == START + dt.timedelta(hours=10)
        assert sweep() == {"warn": 0, "level1": 0, "level2": 0}


def test_C3_management_command_and_notification_delivery(world, caplog):
    w = world
    urgent_case(w)
    out = StringIO()
    with time_machine.travel(START + dt.timedelta(hours=4, minutes=30), tick=False):
        call_command("cases_sweep", stdout=out)
    assert '"level1": 1' in out.getvalue()
    ids = list(Notification.objects.values_list("id", flat=True))
    # delivery already ran after commit (immediate backend) — a retry sends nothing twice
    assert Notification.objects.filter(delivered_at__isnull=True).count() in (0, len(ids))
    deliver(ids)
    assert deliver(ids) == 0
    assert not Notification.objects.filter(delivered_at__isnull=True).exists()


def test_C3_supervisors_are_matched_by_their_street(world):
    w = world
    other_street = f.region("street", w.tree.district, code="370102002", name="另一街道")
    f.account("sup_elsewhere", perms=["case.view", "case.supervise"], scope=other_street)
    case = urgent_case(w)
    with time_machine.travel(START + dt.timedelta(hours=4, minutes=30), tick=False):
        sweep()
    assert "sup_elsewhere" not in notes(case, "escalated")


def test_C3_sweep_notices_name_the_case_and_the_level_reached(world):
    w = world
    case = urgent_case(w)
    case.title = "井盖缺失导致路面塌陷，行人经过时存在严重安全隐患，请尽快处理"
    case.save(update_fields=["title"])
    with time_machine.travel(START + dt.timedelta(hours=3, minutes=13), tick=False):
        sweep()
    with time_machine.travel(START + dt.timedelta(hours=8, minutes=1), tick=False):
        sweep()
    messages = dict(Notification.objects.filter(case=case, recipient=w.handler).exclude(key="").values_list("key", "message"))
    short = case.title[:30]
    assert messages == {
        "warned": f"事件 {case.number}（{short}）即将超时，请尽快处置",
        "escalated:1": f"事件 {case.number}（{short}）已超时，升级至街道督办",
        "escalated:2": f"事件 {case.number}（{short}）已超时，升级至区县督办",
    }
