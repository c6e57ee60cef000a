"""L1 callbacks: an agent calls a caller back (回拨) — an outgoing call record linked to the original call
and its case, number copied encrypted and masked, audited — or follows a closed hotline case up (回访)
with the satisfaction recorded on the case timeline through the cases services. Service, API, console
and permissions across two communities."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from linli.audit.models import AuditEntry
from linli.cases import services as case_svc
from linli.cases.models import CaseEvent, CaseRating, Status
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.hotline import selectors as sel
from linli.hotline import services as svc
from linli.hotline.models import Call, CallbackResult, Direction, Outcome
from tests import factories as f

from .conftest import CALLER, CALLER_E164
from .test_pages import as_

pytestmark = pytest.mark.django_db


def _ended_call(hw, *, caller=CALLER, agent=None) -> Call:
    agent = agent or hw.agent
    call = svc.call_incoming(actor=agent, caller=caller)
    return svc.call_end(actor=agent, call=call, outcome=Outcome.ABANDONED)


def _case_call(hw, *, close=True) -> Call:
    """A call that opened a case in grid A (ended), the case run to closed when ``close``."""
    w = hw.w
    call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    case = svc.call_open_case(actor=hw.agent, call=call, category=w.cat, title="楼下路面塌陷", house=w.house_a, person=hw.caller,
                              confirm_new=True)
    call = svc.call_end(actor=hw.agent, call=call, outcome=Outcome.CASE_OPENED, notes="已告知工单号")
    if close:
        case = case_svc.case_accept(actor=w.worker_a, case=case)
        case = case_svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept)
        case = case_svc.case_start(actor=w.handler, case=case)
        case = case_svc.case_resolve(actor=w.handler, case=case, note="已修复")
        case = case_svc.case_verify(actor=w.grid_worker_a, case=case)
        case_svc.case_close(actor=w.worker_a, case=case)
    return Call.objects.select_related("region", "case").get(pk=call.pk)


# ---- service -----------------------------------------------------------------------------------------------


def test_L1_callback_is_an_outgoing_call_linked_to_the_original_masked_and_audited(hw):
    call = _ended_call(hw)
    back = svc.call_callback(actor=hw.agent, call=call, result=CallbackResult.NO_ANSWER, notes="无人接听，稍后再拨")
    back.refresh_from_db()
    assert back.direction == Direction.OUTBOUND and back.callback_of_id == call.pk and back.agent_id == hw.agent.pk
    assert back.callback_result == "no_answer" and back.outcome == "" and back.answered_at is None and back.ended_at
    assert back.caller == CALLER_E164 and back.caller_masked == "138****2468" and back.caller_index == call.caller_index
    assert back.region_id == call.region_id and back.case_id is None
    with connection.cursor() as cur:
        cur.execute("SELECT caller FROM hotline_call WHERE id = %s", [back.pk])
        assert "2468" not in cur.fetchone()[0]
    entry = AuditEntry.objects.get(action="hotline.callback", object_id=str(back.pk))
    assert entry.actor_id == hw.agent.pk and entry.detail["of"] == call.pk and entry.detail["result"] == "no_answer"
    assert "13805312468" not in str(entry.after) + str(entry.detail)
    again = svc.call_callback(actor=hw.agent, call=back, result=CallbackResult.CONNECTED)  # from a callback: same original
    assert again.callback_of_id == call.pk and again.answered_at is not None
    assert [c.pk for c in sel.call_callbacks(actor=hw.agent, call=back)] == [again.pk, back.pk]


def test_L1_callback_of_a_case_call_carries_the_case(hw):
    call = _case_call(hw, close=False)
    back = svc.call_callback(actor=hw.agent, call=call, result=CallbackResult.CONNECTED, notes="告知处理进度")
    assert back.case_id == call.case_id and back.person_id == hw.caller.pk
    assert sel.case_call(actor=hw.agent, case_id=call.case_id).pk == call.pk  # the original, not the callback
    assert not CaseEvent.objects.filter(case_id=call.case_id, kind="commented").exists()  # a plain 回拨 leaves the timeline alone


def test_L1_callback_refuses_open_call_withheld_number_and_bad_input(hw):
    open_call = svc.call_incoming(actor=hw.agent, caller=CALLER)
    with pytest.raises(Conflict) as exc:
        svc.call_callback(actor=hw.agent, call=open_call, result=CallbackResult.CONNECTED)
    assert exc.value.code == "hotline.call_open"
    withheld = _ended_call(hw, caller="")
    with pytest.raises(Conflict) as exc:
        svc.call_callback(actor=hw.agent, call=withheld, result=CallbackResult.CONNECTED)
    assert exc.value.code == "hotline.caller_withheld"
    call = _ended_call(hw)
    for kw, code in (({"result": "maybe"}, "hotline.callback_result_invalid"),
                     ({"result": "connected", "notes": "x" * (svc.MAX_NOTES + 1)}, "hotline.notes_too_long"),
                     ({"result": "connected", "score": 5}, "hotline.score_needs_follow_up")):
        with pytest.raises(Invalid) as exc:
            svc.call_callback(actor=hw.agent, call=call, **kw)
        assert exc.value.code == code
    with pytest.raises(Conflict) as exc:  # 回访 needs a case
        svc.call_callback(actor=hw.agent, call=call, result=CallbackResult.CONNECTED, follow_up=True)
    assert exc.value.code == "hotline.follow_up_needs_case"
    assert not Call.objects.filter(callback_of__isnull=False).exists()


def test_L1_callback_permissions_across_communities(hw, tree):
    call = _case_call(hw, close=False)  # filed under grid A
    with pytest.raises(NotFound):  # an agent of community B does not see the call
        svc.call_callback(actor=hw.agent_b, call=call, result=CallbackResult.CONNECTED)
    with pytest.raises(Forbidden):  # the supervisor of A sees it but is no agent
        svc.call_callback(actor=hw.supervisor_a, call=call, result=CallbackResult.CONNECTED)
    agent_a = f.account("agent_a", perms=["case.view", "case.intake", "hotline.view"], scope=tree.community_a)
    assert svc.call_callback(actor=agent_a, call=call, result=CallbackResult.BUSY).agent_id == agent_a.pk  # a colleague in A may
    agent_b2 = f.account("agent_b2", perms=["case.view", "case.intake", "hotline.view"], scope=tree.community_b)
    with pytest.raises(NotFound):
        svc.call_callback(actor=agent_b2, call=call, result=CallbackResult.BUSY)
    with pytest.raises(NotFound):
        sel.case_call(actor=agent_b2, case_id=call.case_id)
    sup_b = f.account("sup_b", perms=["hotline.view"], scope=tree.community_b)
    assert list(sel.call_list(actor=sup_b, direction=Direction.OUTBOUND)) == []
    assert len(sel.call_list(actor=hw.supervisor_a, direction=Direction.OUTBOUND)) == 1


# ---- 回访: follow-up of a closed case ----------------------------------------------------------------------


def test_L1_follow_up_needs_the_case_closed(hw):
    call = _case_call(hw, close=False)
    with pytest.raises(Conflict) as exc:
        svc.call_callback(actor=hw.agent, call=call, result=CallbackResult.CONNECTED, follow_up=True)
    assert exc.value.code == "hotline.case_not_closed"


def test_L1_follow_up_not_reached_is_a_timeline_comment(hw):
    call = _case_call(hw)
    back = svc.call_callback(actor=hw.agent, call=call, result=CallbackResult.NO_ANSWER, notes="两次未接", follow_up=True)
    event = CaseEvent.objects.filter(case_id=call.case_id).latest("seq")
    assert event.kind == "commented" and event.actor_id == hw.agent.pk and "未接通" in event.note and "两次未接" in event.note
    assert back.case_id == call.case_id and not CaseRating.objects.filter(case_id=call.case_id).exists()
    with pytest.raises(Invalid) as exc:  # no score without reaching the resident
        svc.call_callback(actor=hw.agent, call=call, result=CallbackResult.NO_ANSWER, follow_up=True, score=4)
    assert exc.value.code == "hotline.score_needs_connection"


def test_L1_follow_up_score_is_a_case_rating_needing_case_close(hw, tree):
    call = _case_call(hw)
    with pytest.raises(Forbidden):  # the agent holds case.intake/view, not case.close: rating refused, nothing recorded
        svc.call_callback(actor=hw.agent, call=call, result=CallbackResult.CONNECTED, follow_up=True, score=5)
    assert not Call.objects.filter(callback_of=call).exists() and not CaseRating.objects.exists()
    lead = f.account("lead_a", perms=["case.view", "case.intake", "case.close", "hotline.view"], scope=tree.community_a)
    back = svc.call_callback(actor=lead, call=call, result=CallbackResult.CONNECTED, follow_up=True, score=4, notes="满意，路面已修好")
    rating = CaseRating.objects.get(case_id=call.case_id)
    assert rating.score == 4 and rating.on_behalf and rating.rated_by_id == lead.pk and rating.comment == "满意，路面已修好"
    event = CaseEvent.objects.filter(case_id=call.case_id).latest("seq")
    assert event.kind == "rated" and event.data == {"score": 4}
    assert back.callback_result == "connected" and back.case.status == Status.CLOSED
    with pytest.raises(Conflict) as exc:  # once per round, as the case rating says
        svc.call_callback(actor=lead, call=call, result=CallbackResult.CONNECTED, follow_up=True, score=5)
    assert exc.value.code == "case.already_rated"
    assert Call.objects.filter(callback_of=call).count() == 1


def test_L1_database_keeps_callbacks_consistent(hw):
    call = _ended_call(hw)
    back = svc.call_callback(actor=hw.agent, call=call, result=CallbackResult.CONNECTED)
    for changes in ({"callback_result": ""}, {"callback_result": "nonsense"}, {"direction": Direction.INBOUND},
                    {"outcome": Outcome.OTHER}, {"ended_at": None}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Call.objects.filter(pk=back.pk).update(**changes)
    with pytest.raises(IntegrityError), transaction.atomic():  # an incoming call has no callback result
        Call.objects.filter(pk=call.pk).update(callback_result="connected")


# ---- API ---------------------------------------------------------------------------------------------------


def test_L1_callback_api_from_call_and_from_case(hw, api_as, tree):
    plain = _ended_call(hw)
    c = api_as(hw.agent)
    r = c.post(f"hotline/calls/{plain.pk}/callback", {"result": "wrong_number", "notes": "空号"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["direction"] == "outbound" and body["direction_label"] == "去电" and body["callback_of_id"] == plain.pk
    assert body["callback_result"] == "wrong_number" and body["caller_masked"] == "138****2468"
    assert "13805312468" not in r.content.decode()
    assert c.post(f"hotline/calls/{plain.pk}/callback", {"result": "perhaps"}).json()["code"] == "hotline.callback_result_invalid"
    assert c.post(f"hotline/calls/{plain.pk}/callback", {"result": "connected", "score": 9}).status_code == 422
    assert c.post("hotline/calls/999999/callback", {"result": "connected"}).status_code == 404
    open_id = c.post("hotline/calls", {"caller": CALLER}).json()["id"]
    r = c.post(f"hotline/calls/{open_id}/callback", {"result": "connected"})
    assert r.status_code == 409 and r.json()["code"] == "hotline.call_open"
    assert api_as(hw.agent_b).post(f"hotline/calls/{plain.pk}/callback", {"result": "connected"}).status_code == 404

    call = _case_call(hw)
    r = c.post(f"hotline/cases/{call.case_id}/callback", {"result": "connected", "follow_up": True, "notes": "居民表示满意"})
    assert r.status_code == 201 and r.json()["case_id"] == call.case_id and r.json()["callback_of_id"] == call.pk
    assert CaseEvent.objects.filter(case_id=call.case_id).latest("seq").kind == "commented"
    r = c.post(f"hotline/cases/{call.case_id}/callback", {"result": "connected", "follow_up": True, "score": 5})
    assert r.status_code == 403 and r.json()["code"] == "permission.denied"  # rating needs case.close
    assert api_as(hw.agent_b).post(f"hotline/cases/{call.case_id}/callback", {"result": "connected"}).status_code == 404
    assert c.post("hotline/cases/999999/callback", {"result": "connected"}).status_code == 404
    r = api_as(hw.supervisor_a).post(f"hotline/cases/{call.case_id}/callback", {"result": "connected"})
    assert r.status_code == 403


def test_L1_call_list_direction_filter_and_query_count(hw, api_as, django_assert_max_num_queries):
    for i in range(4):
        original = _ended_call(hw, caller=f"1390000{i:04d}")
        svc.call_callback(actor=hw.agent, call=original, result=CallbackResult.CONNECTED)
    c = api_as(hw.agent)
    c.get("hotline/calls", {"limit": 1})
    with django_assert_max_num_queries(6):
        r = c.get("hotline/calls", {"limit": 8})
    items = r.json()["items"]
    assert r.status_code == 200 and len(items) == 8 and {i["direction"] for i in items} == {"inbound", "outbound"}
    with django_assert_max_num_queries(6):
        out = c.get("hotline/calls", {"direction": "outbound", "limit": 8}).json()["items"]
    assert len(out) == 4 and all(i["callback_of_id"] and i["callback_result_label"] == "接通" for i in out)
    assert len(c.get("hotline/calls", {"direction": "inbound"}).json()["items"]) == 4
    r = c.get("hotline/calls", {"direction": "sideways"})
    assert r.status_code == 422 and r.json()["code"] == "hotline.direction_invalid"


def test_L1_openapi_documents_the_callback_routes(db):
    from django.test import Client

    spec = Client().get("/api/v1/openapi.json").json()
    for p in ("/api/v1/hotline/calls/{call_id}/callback", "/api/v1/hotline/cases/{case_id}/callback"):
        assert "201" in spec["paths"][p]["post"]["responses"], p
    assert {"result", "notes", "follow_up", "score"} <= set(spec["components"]["schemas"]["CallbackIn"]["properties"])
    assert "callback_result" in spec["components"]["schemas"]["CallOut"]["properties"]


# ---- console -----------------------------------------------------------------------------------------------


def test_L1_console_call_page_records_a_callback_with_htmx(hw):
    call = _ended_call(hw)
    c = as_(hw.agent)
    page = c.get(reverse("console:hotline_call", args=[call.pk])).content.decode()
    assert 'id="callback-form"' in page and "13805312468" not in page and "满意度回访" not in page  # no case: no 回访 fields
    url = reverse("console:hotline_call_callback", args=[call.pk])
    r = c.post(url, {"result": "busy", "notes": "占线"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and 'id="callback-recorded"' in r.content.decode() and "占线" in r.content.decode()
    assert Call.objects.get(callback_of=call).callback_result == "busy"
    r = c.post(url, {"result": "nope"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 422 and "field-error" in r.content.decode()
    r = c.post(url, {"result": "connected"})  # without JavaScript: back to the call page
    assert r.status_code == 302 and r.url == reverse("console:hotline_call", args=[call.pk])
    assert as_(hw.supervisor_a).post(url, {"result": "connected"}).status_code in (403, 404)
    assert as_(hw.agent_b).post(url, {"result": "connected"}).status_code == 404
    assert Call.objects.filter(callback_of=call).count() == 2


def test_L1_console_follow_up_from_the_closed_case_page(hw):
    call = _case_call(hw)
    c = as_(hw.agent)
    case_page = c.get(reverse("console:cases_case", args=[call.case_id])).content.decode()
    assert 'id="case-callback"' in case_page and reverse("console:hotline_call", args=[call.pk]) in case_page
    assert 'id="case-callback"' not in as_(hw.w.worker_a).get(reverse("console:cases_case", args=[call.case_id])).content.decode()
    page = c.get(reverse("console:hotline_call", args=[call.pk])).content.decode()
    assert "满意度回访" in page
    r = c.post(reverse("console:hotline_call_callback", args=[call.pk]), {"result": "declined", "follow_up": "on"},
               HTTP_HX_REQUEST="true")
    assert r.status_code == 200, r.content
    assert CaseEvent.objects.filter(case_id=call.case_id).latest("seq").note == "电话回访：接通但拒绝回访"
    r = c.post(reverse("console:hotline_call_callback", args=[call.pk]), {"result": "connected", "follow_up": "on", "score": "5"},
               HTTP_HX_REQUEST="true")
    assert r.status_code == 403 and "case.close" in r.content.decode()


def test_L1_console_call_records_show_and_filter_direction(hw):
    call = _ended_call(hw)
    svc.call_callback(actor=hw.agent, call=call, result=CallbackResult.UNREACHABLE)
    c = as_(hw.agent)
    page = c.get(reverse("console:hotline_calls")).content.decode()
    assert "去电" in page and "来电" in page and "关机/停机" in page
    page = c.get(reverse("console:hotline_calls"), {"direction": "inbound"}).content.decode()
    assert "关机/停机" not in page and "dir-inbound" in page and "dir-outbound" not in page
