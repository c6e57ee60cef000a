"""Workflow (C3, L3): every transition, its permission, illegal moves, timeline and audit."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from linli.audit.models import AuditEntry
from linli.cases import services as svc
from linli.cases.models import Case, CaseCoHandler, CaseEvent, CaseRating, Notification, Status
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from tests import factories as f

from .world import P, report

pytestmark = pytest.mark.django_db


def kinds(case: Case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("kind", flat=True))


def to_dispatched(w, case=None):
    case = case or report(w)
    if case.status == Status.REPORTED:
        case = svc.case_accept(actor=w.worker_a, case=case)
    if case.status == Status.ACCEPTED:
        case = svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    return case


def to_resolved(w, case=None):
    case = to_dispatched(w, case)
    svc.case_start(actor=w.handler, case=case)
    return svc.case_resolve(actor=w.handler, case=case, note="已修复", photos=["cases/2026/11/after.jpg"])


def test_C3_full_loop_reported_to_closed_with_timeline_and_audit(world):
    w = world
    case = report(w)
    assert case.status == Status.REPORTED and case.number.startswith("C") and len(case.number) == 13
    case = svc.case_accept(actor=w.worker_a, case=case, note="已受理")
    case = svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept, note="请城管局处置")
    assert case.assigned_org == w.dept and case.dispatched_at
    case = svc.case_start(actor=w.handler, case=case)
    case = svc.case_resolve(actor=w.handler, case=case, note="已更换破损地砖", photos=["cases/after-1.jpg"])
    case = svc.case_verify(actor=w.grid_worker_a, case=case, note="现场核实")
    case = svc.case_close(actor=w.worker_a, case=case)
    assert case.status == Status.CLOSED and case.closed_at
    events = list(CaseEvent.objects.filter(case=case).order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert [e.kind for e in events] == ["created", "accepted", "dispatched", "started", "resolved", "verified", "closed"]
    assert events[4].photos == ["cases/after-1.jpg"] and events[4].from_status == "in_progress" and events[4].to_status == "resolved"
    actions = list(AuditEntry.objects.filter(object_type="cases.case", object_id=str(case.pk)).values_list("action", flat=True))
    assert actions == ["case.report", "case.accept", "case.dispatch", "case.start", "case.resolve", "case.verify", "case.close"]


@pytest.mark.parametrize(
    ("action", "setup", "who"),
    [
        ("accept", None, "handler"),  # a department cannot accept (case.accept)
        ("dispatch", "accepted", "grid_worker_a"),  # a grid worker cannot dispatch
        ("start", "dispatched", "worker_a"),  # community cannot handle (case.handle)
        ("resolve", "in_progress", "worker_a"),
        ("verify", "resolved", "handler"),  # the handler cannot verify its own work
        ("close", "verified", "handler"),
        ("escalate", None, "worker_a"),  # supervising is case.supervise
    ],
)
def test_C3_transition_needs_its_permission(world, action, setup, who):
    w = world
    case = report(w)
    steps = ["accepted", "dispatched", "in_progress", "resolved", "verified"]
    for step in steps[: steps.index(setup) + 1] if setup else []:
        {
            "accepted": lambda: svc.case_accept(actor=w.worker_a, case=case),
            "dispatched": lambda: svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept),
            "in_progress": lambda: svc.case_start(actor=w.handler, case=case),
            "resolved": lambda: svc.case_resolve(actor=w.handler, case=case, note="ok"),
            "verified": lambda: svc.case_verify(actor=w.grid_worker_a, case=case),
        }[step]()
    fn = getattr(svc, f"case_{action}")
    kw = {"note": "x"} if action in ("escalate", "resolve") else {}
    with pytest.raises(Forbidden) as exc:
        fn(actor=getattr(w, who), case=case, **kw)
    assert exc.value.code == "permission.denied"


def test_C3_illegal_transition_is_409_with_from_to_allowed(world):
    w = world
    case = report(w)
    with pytest.raises(Conflict) as exc:
        svc.case_close(actor=w.worker_a, case=case)
    assert exc.value.code == "case.invalid_transition"
    assert exc.value.detail["from"] == "reported" and exc.value.detail["to"] == "closed"
    assert "accept" in exc.value.detail["allowed"] and "close" not in exc.value.detail["allowed"]
    case = to_resolved(w)
    with pytest.raises(Conflict):
        svc.case_start(actor=w.handler, case=case)
    with pytest.raises(Conflict):
        svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept2)


def test_C3_out_of_scope_case_is_404_for_every_action(world):
    w = world
    case = report(w)
    for fn in (svc.case_accept, svc.case_close):
        with pytest.raises(NotFound):
            fn(actor=w.worker_b, case=case)
    with pytest.raises(NotFound):
        svc.case_comment(actor=w.worker_b, case=case, note="hi")


def test_C3_return_goes_back_one_level(world):
    w = world
    case = report(w)
    svc.case_accept(actor=w.worker_a, case=case)
    case = svc.case_return(actor=w.worker_a, case=case, note="非本社区事项")
    assert case.status == Status.REPORTED
    svc.case_accept(actor=w.worker_a, case=case)
    svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    case = svc.case_return(actor=w.handler, case=case, note="不属于城管职责")
    assert case.status == Status.ACCEPTED and case.assigned_org is None
    with pytest.raises(Invalid) as exc:
        svc.case_return(actor=w.worker_a, case=case, note="  ")
    assert exc.value.code == "case.note_required"
    case = to_resolved(w, case)
    case = svc.case_return(actor=w.grid_worker_a, case=case, note="现场仍有破损")
    assert case.status == Status.IN_PROGRESS and case.assigned_org == w.dept
    assert kinds(case).count("returned") == 3


def test_L3_reassign_transfer_co_handle_and_comment(world):
    w = world
    case = to_dispatched(w)
    case = svc.case_reassign(actor=w.worker_a, case=case, to=w.property_co, note="物业负责")
    assert case.assigned_org == w.property_co and case.status == Status.DISPATCHED
    # the property company has no handler with case.handle: the dispatcher moves it on
    case = svc.case_reassign(actor=w.worker_a, case=case, to=w.dept)
    svc.case_start(actor=w.handler, case=case)
    # someone with case.handle elsewhere and not involved does not even see the case
    with pytest.raises(NotFound):
        svc.case_transfer(actor=f.account(perms=[P.VIEW, P.HANDLE], scope=w.tree.community_b), case=case, to=w.dept2, note="x")
    case = svc.case_transfer(actor=w.handler, case=case, to=w.dept2, note="涉及房屋结构，转住建")
    assert case.assigned_org == w.dept2 and case.status == Status.DISPATCHED and case.started_at is None
    case = svc.case_co_handle(actor=w.worker_a, case=case, organisations=[w.dept, w.property_co], note="配合")
    assert set(CaseCoHandler.objects.filter(case=case).values_list("organisation_id", flat=True)) == {w.dept.pk, w.property_co.pk}
    with pytest.raises(Invalid):
        svc.case_co_handle(actor=w.worker_a, case=case, organisations=[w.dept])
    ev = svc.case_comment(actor=w.handler, case=case, note="我局配合清理", photos=["cases/c1.jpg"])
    assert ev.kind == "commented" and ev.photos == ["cases/c1.jpg"]
    # a co-handler may comment but not do the lead's work
    with pytest.raises(Forbidden):
        svc.case_start(actor=f.account(perms=[P.VIEW, P.HANDLE], scope=w.tree.grid_b, organisation=w.property_co), case=case)
    assert kinds(case)[-5:] == ["reassigned", "started", "transferred", "co_handle_added", "commented"]
    assert Notification.objects.filter(recipient=w.handler2, case=case, kind="assigned").exists()


def test_C3_photo_references_are_validated(world):
    w = world
    case = to_dispatched(w)
    svc.case_start(actor=w.handler, case=case)
    with pytest.raises(Invalid) as exc:
        svc.case_resolve(actor=w.handler, case=case, note="ok", photos=["../etc/passwd"])
    assert exc.value.code == "case.photo_invalid"
    with pytest.raises(Invalid):
        svc.case_resolve(actor=w.handler, case=case, note="ok", photos=[f"p{i}.jpg" for i in range(10)])


def test_C1_merge_duplicate_into_primary(world):
    w = world
    primary = report(w)
    dup = report(w, actor=w.resident, channel="portal", title="路面坑洼")
    with pytest.raises(Forbidden):
        svc.case_merge(actor=w.handler, case=dup, into=primary)
    dup = svc.case_merge(actor=w.worker_a, case=dup, into=primary, note="同一问题")
    assert dup.status == Status.MERGED and dup.merged_into == primary
    assert kinds(primary)[-1] == "merged" and kinds(dup)[-1] == "merged"
    with pytest.raises(Invalid):
        svc.case_merge(actor=w.worker_a, case=primary, into=primary)
    with pytest.raises(Conflict):
        svc.case_accept(actor=w.worker_a, case=dup)
    assert Notification.objects.filter(recipient=w.resident, case=dup).exists()


def _close(w, case):
    case = to_resolved(w, case)
    svc.case_verify(actor=w.grid_worker_a, case=case)
    return svc.case_close(actor=w.worker_a, case=case)


def test_C4_reporter_rates_once_per_round_and_reopens_within_window(world):
    w = world
    case = report(w, actor=w.resident, channel="portal")
    case = _close(w, case)
    with pytest.raises(Forbidden):  # someone else's case in scope but not the reporter and no case.close
        svc.case_rate(actor=w.handler, case=case, score=5)
    rating = svc.case_rate(actor=w.resident, case=case, score=2, comment="修得不牢")
    assert rating.round == 0 and not rating.on_behalf and rating.organisation_id == w.dept.pk
    with pytest.raises(Conflict):
        svc.case_rate(actor=w.resident, case=case, score=3)
    case = svc.case_reopen(actor=w.resident, case=case, note="又松动了")
    assert case.status == Status.DISPATCHED and case.reopen_count == 1 and case.escalation_level == 0
    assert case.assigned_org == w.dept and case.closed_at is None
    case = _close(w, case)
    svc.case_rate(actor=w.worker_a, case=case, score=5, comment="电话回访")  # on behalf (case.close)
    assert CaseRating.objects.filter(case=case).count() == 2
    assert CaseRating.objects.get(case=case, round=1).on_behalf


def test_C4_reopen_window_passed(world):
    w = world
    case = report(w, actor=w.resident, channel="portal")
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC), tick=False):
        case = _close(w, case)
    with time_machine.travel(dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC), tick=False), pytest.raises(Conflict) as exc:
        svc.case_reopen(actor=w.resident, case=case, note="again")
    assert exc.value.code == "case.reopen_window_passed"
    other = f.account(kind="resident")
    with pytest.raises(NotFound):
        svc.case_reopen(actor=other, case=case, note="x")


def test_C3_manual_escalation_by_supervisor(world):
    w = world
    case = to_dispatched(w)
    case = svc.case_escalate(actor=w.street_supervisor, case=case, note="群众反映强烈，督办")
    assert case.escalation_level == 1
    case = svc.case_escalate(actor=w.street_supervisor, case=case, note="再督办")
    with pytest.raises(Conflict):
        svc.case_escalate(actor=w.street_supervisor, case=case, note="again")
    assert Notification.objects.filter(recipient=w.handler, case=case, kind="supervised").count() == 2
