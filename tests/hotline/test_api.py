"""L1 API /api/v1/hotline: the CTI screen pop (token-authenticated), call records with filters and
constant queries, the agent's actions, permissions and scope."""

from __future__ import annotations

import pytest

from linli.audit.models import AuditEntry
from linli.cases.models import Case, Channel
from linli.hotline import services as svc
from linli.hotline.models import Call, Outcome
from tests import factories as f
from tests.cases.world import A_LAT, A_LNG, report

from .conftest import CALLER

pytestmark = pytest.mark.django_db


def test_L1_cti_screen_pop_returns_masked_match(hw, api_as):
    hw.caller.refresh_from_db()
    old = report(hw.w, actor=hw.agent, channel="hotline", reporter_person=hw.caller)
    r = api_as(hw.agent).post("hotline/calls", {"caller": CALLER, "external_id": "pbx-0001"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["caller_masked"] == "138****2468" and body["agent_id"] == hw.agent.pk and body["ended_at"] is None
    assert body["screen_url"] == f"/console/hotline/calls/{body['id']}/"
    [m] = body["caller_match"]["matches"]
    assert m["person_id"] == hw.caller.pk and m["name_masked"] == "王*兰" and m["phone_masked"] == "138****2468"
    assert m["homes"][0]["house_id"] == hw.w.house_a.pk and m["cases"][0]["number"] == old.number
    assert "13805312468" not in r.content.decode() and "王秀兰" not in r.content.decode()
    assert AuditEntry.objects.filter(action="hotline.caller_lookup", object_id=str(hw.caller.pk)).exists()
    again = api_as(hw.agent).post("hotline/calls", {"caller": CALLER, "external_id": "pbx-0001"})
    assert again.status_code == 201 and again.json()["id"] == body["id"]


def test_L1_cti_event_needs_a_token_with_case_intake(hw, api_as, client):
    assert client.post("/api/v1/hotline/calls", {"caller": CALLER}, content_type="application/json").status_code == 401
    r = api_as(hw.supervisor_a).post("hotline/calls", {"caller": CALLER})
    assert r.status_code == 403 and r.json()["code"] == "permission.denied"
    r = api_as(hw.agent).post("hotline/calls", {"caller": "not a number"})
    assert r.status_code == 422 and r.json()["code"] == "hotline.caller_invalid"
    r = api_as(hw.agent).post("hotline/calls", {"caller": CALLER, "direction": "sideways"})
    assert r.status_code == 422


def test_L1_answer_open_case_and_end_through_the_api(hw, api_as):
    c = api_as(hw.agent)
    call_id = c.post("hotline/calls", {"caller": CALLER}).json()["id"]
    article = hw.articles["noise-complaint"]
    r = c.post(f"hotline/calls/{call_id}/answer", {"article_id": article.pk})
    assert r.status_code == 200 and r.json()["title"] == article.title
    assert c.post(f"hotline/calls/{call_id}/answer", {"article_id": 999999}).status_code == 404
    existing = report(hw.w, lat=A_LAT, lng=A_LNG)
    form = {"category_id": hw.w.cat.pk, "title": "路面破损", "lat": A_LAT, "lng": A_LNG, "person_id": hw.caller.pk}
    r = c.post(f"hotline/calls/{call_id}/case", form)
    assert r.status_code == 409 and r.json()["code"] == "hotline.possible_duplicates"
    assert r.json()["detail"]["candidates"][0]["number"] == existing.number
    r = c.post(f"hotline/calls/{call_id}/case", {**form, "confirm_new": True})
    assert r.status_code == 201, r.content
    case = Case.objects.get(pk=r.json()["case"]["id"])
    assert case.channel == Channel.HOTLINE and r.json()["call"]["case_number"] == case.number
    assert c.post(f"hotline/calls/{call_id}/end", {"outcome": "nope"}).status_code == 422
    r = c.post(f"hotline/calls/{call_id}/end", {"outcome": "case_opened", "notes": "已告知工单号", "category": "complaint"})
    assert r.status_code == 200 and r.json()["outcome"] == "case_opened" and len(r.json()["articles"]) == 1
    assert c.post(f"hotline/calls/{call_id}/end", {"outcome": "other", "notes": "x"}).status_code == 409


def test_L1_case_form_errors_are_4xx(hw, api_as):
    c = api_as(hw.agent)
    call_id = c.post("hotline/calls", {"caller": CALLER}).json()["id"]
    assert c.post(f"hotline/calls/{call_id}/case", {"category_id": hw.w.cat.pk, "title": "无位置"}).status_code == 422
    assert c.post(f"hotline/calls/{call_id}/case", {"category_id": 999999, "title": "x", "lat": A_LAT, "lng": A_LNG}).status_code == 404
    assert c.post(f"hotline/calls/{call_id}/case", {"category_id": hw.w.cat.pk, "title": "x", "house_id": 999999}).status_code == 404
    assert c.post(f"hotline/calls/{call_id}/case", {"category_id": hw.w.cat.pk, "title": "x", "lat": 95, "lng": 1}).status_code == 422
    r = api_as(hw.agent_b).post(f"hotline/calls/{call_id}/end", {"outcome": "abandoned"})
    assert r.status_code == 404


def test_L1_call_records_scope_filters_and_query_count(hw, api_as, django_assert_max_num_queries):
    for i in range(6):
        call = svc.call_incoming(actor=hw.agent, caller=f"1390000{i:04d}")
        svc.call_open_case(actor=hw.agent, call=call, category=hw.w.cat, title=f"来电{i}", house=hw.w.house_a, confirm_new=True)
        svc.call_end(actor=hw.agent, call=call, outcome=Outcome.CASE_OPENED)
    svc.call_incoming(actor=hw.agent_b, caller=CALLER)  # filed in community B: not the supervisor's
    sup = api_as(hw.supervisor_a)
    sup.get("hotline/calls", {"limit": 1})
    with django_assert_max_num_queries(6):
        r = sup.get("hotline/calls", {"limit": 4})
    assert r.status_code == 200 and len(r.json()["items"]) == 4 and r.json()["next_cursor"]
    rest = sup.get("hotline/calls", {"limit": 4, "cursor": r.json()["next_cursor"]}).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert all(item["case_number"] and item["caller_masked"].startswith("139****") for item in r.json()["items"])
    assert sup.get("hotline/calls", {"outcome": "abandoned"}).json()["items"] == []
    assert len(sup.get("hotline/calls", {"agent_id": hw.agent.pk}).json()["items"]) == 6
    assert sup.get("hotline/calls", {"outcome": "bad"}).status_code == 422
    assert sup.get("hotline/calls", {"date_from": "2026-13-01"}).status_code == 422
    other = Call.objects.get(agent=hw.agent_b)
    assert sup.get(f"hotline/calls/{other.pk}").status_code == 404
    assert api_as(hw.agent_b).get(f"hotline/calls/{other.pk}").status_code == 200
    nobody = f.account("nobody", perms=["place.view"], scope=hw.w.tree.city)
    assert api_as(nobody).get("hotline/calls").json()["items"] == []


def test_L1_reveal_and_caller_lookup_routes(hw, api_as, tree):
    call_id = api_as(hw.agent).post("hotline/calls", {"caller": CALLER}).json()["id"]
    assert api_as(hw.agent).post(f"hotline/calls/{call_id}/reveal", {"purpose": "回拨"}).status_code == 403
    chief = f.account("chief", perms=["hotline.view", "person.reveal"], scope=tree.city)
    r = api_as(chief).post(f"hotline/calls/{call_id}/reveal", {"purpose": "回拨核实"})
    assert r.status_code == 200 and r.json()["caller"] == "+8613805312468"
    r = api_as(hw.agent).get(f"hotline/calls/{call_id}/caller")
    assert r.status_code == 200 and r.json()["matches"][0]["person_id"] == hw.caller.pk
    r = api_as(hw.agent).post(f"hotline/calls/{call_id}/person", {"person_id": hw.caller.pk})
    assert r.status_code == 200 and r.json()["person_name_masked"] == "王*兰"


def test_L1_cti_service_account_reports_calls_for_an_agent_without_seeing_persons(hw, api_as):
    from linli.orgs.models import AccountKind

    cti = f.account("pbx", perms=["hotline.cti"], scope=hw.w.tree.city, kind=AccountKind.SERVICE)
    r = api_as(cti).post("hotline/calls", {"caller": CALLER, "external_id": "pbx-42", "agent": hw.agent.username})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["agent_id"] == hw.agent.pk and body["caller_match"] is None and "王" not in r.content.decode()
    assert not AuditEntry.objects.filter(action="hotline.caller_lookup").exists()
    assert AuditEntry.objects.get(action="hotline.call_incoming").actor_id == cti.pk
    # the agent's screen then shows the match
    assert api_as(hw.agent).get(f"hotline/calls/{body['id']}/caller").json()["matches"][0]["person_id"] == hw.caller.pk
    assert api_as(cti).post("hotline/calls", {"caller": CALLER, "agent": "nobody-here"}).status_code == 404
    r = api_as(cti).post("hotline/calls", {"caller": CALLER, "agent": hw.supervisor_a.username})
    assert r.status_code == 422 and r.json()["code"] == "hotline.agent_invalid"
    r = api_as(hw.agent_b).post("hotline/calls", {"caller": CALLER, "agent": hw.agent.username})
    assert r.status_code == 403  # an agent cannot file calls for a colleague
    r = api_as(hw.agent_b).post("hotline/calls", {"caller": CALLER, "agent": "nobody-here"})
    assert r.status_code == 403  # no account probing without hotline.cti
