"""/api/v1/cases: intake (C1) with duplicates, lists and inboxes, transitions, scope, routing table."""

from __future__ import annotations

import pytest
from django.db import connection

from linli.cases import services as svc
from linli.cases.models import Case, CaseEvent, Notification, RoutingRule
from linli.core import pii
from tests import factories as f

from .world import A_LAT, A_LNG, B_LAT, B_LNG, report

pytestmark = pytest.mark.django_db


def payload(w, **kw):
    return {"category_id": w.cat.pk, "title": "楼道灯不亮", "description": "3号楼2单元楼道灯坏了一周", "lat": A_LAT, "lng": A_LNG, **kw}


def test_C1_resident_reports_from_portal_with_contact_masked_and_encrypted(world, api_as):
    w = world
    r = api_as(w.resident).post("cases", payload(w, reporter_contact="13912345678", photos=["cases/2026/11/p1.jpg"]))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "reported" and body["region"]["id"] == w.tree.grid_a.pk
    assert body["assigned_account"]["id"] == w.grid_worker_a.pk and body["duplicate_candidates"] == []
    case = Case.objects.get(pk=body["id"])
    assert case.reporter_account == w.resident and case.reporter_contact == "+8613912345678"
    assert case.reporter_contact_masked == "139****5678"
    raw = Case.objects.filter(pk=case.pk).values_list("reporter_contact", flat=True)
    with connection.cursor() as cur:
        cur.execute("SELECT reporter_contact FROM cases_case WHERE id = %s", [case.pk])
        stored = cur.fetchone()[0]
    assert stored.startswith(f"{pii.PREFIX}:") and "13912345678" not in stored and list(raw)
    detail = api_as(w.resident).get(f"cases/{case.pk}").json()
    assert detail["reporter_contact_masked"] == "139****5678" and "13912345678" not in str(detail)
    assert detail["timeline"][0]["kind"] == "created" and detail["photos"] == ["cases/2026/11/p1.jpg"]


def test_C1_resident_from_my_home_and_not_someone_elses(world, api_as):
    w = world
    r = api_as(w.resident).post("cases", payload(w, lat=None, lng=None, house_id=w.house_a.pk))
    assert r.status_code == 201 and r.json()["region"]["id"] == w.tree.grid_a.pk
    other_house = f.house(w.tree.grid_b)
    r = api_as(w.resident).post("cases", payload(w, lat=None, lng=None, house_id=other_house.pk))
    assert r.status_code == 404


def test_C1_intake_errors_are_4xx(world, api_as):
    w = world
    c = api_as(w.resident)
    assert c.post("cases", payload(w, lat=10.0, lng=10.0)).json()["code"] == "case.location_outside"
    assert c.post("cases", payload(w, lat=None, lng=None)).json()["code"] == "case.location_required"
    assert c.post("cases", payload(w, reporter_contact="not-a-phone")).json()["code"] == "case.contact_invalid"
    assert c.post("cases", payload(w, category_id=999999)).status_code == 404
    assert c.post("cases", payload(w, lat=91)).status_code == 422
    # other channels need case.intake over the location
    r = c.post("cases", payload(w, channel="hotline"))
    assert r.status_code == 403
    r = api_as(w.worker_b).post("cases", payload(w, channel="patrol"))
    assert r.status_code == 404 and r.json()["code"] == "case.location_out_of_scope"
    r = api_as(w.worker_b).post("cases", payload(w, channel="patrol", lat=B_LAT, lng=B_LNG))
    assert r.status_code == 201 and r.json()["region"]["id"] == w.tree.grid_b.pk


def test_C1_duplicates_offered_and_merged(world, api_as):
    w = world
    first = report(w, title="井盖松动", lat=A_LAT, lng=A_LNG)
    report(w, title="很远的问题", lat=A_LAT + 0.004, lng=A_LNG)  # ≈ 445 m away
    r = api_as(w.worker_a).post("cases", payload(w, channel="patrol", lat=A_LAT + 0.0003, lng=A_LNG))  # ≈ 33 m
    assert r.status_code == 201
    dupes = r.json()["duplicate_candidates"]
    assert [d["id"] for d in dupes] == [first.pk] and 25 < dupes[0]["distance_m"] < 40
    new_id = r.json()["id"]
    assert [d["id"] for d in api_as(w.worker_a).get(f"cases/{new_id}/duplicates").json()] == [first.pk]
    assert len(api_as(w.worker_a).get(f"cases/{new_id}/duplicates", {"radius_m": 1000}).json()) == 2
    # another category or a closed case is not a duplicate
    report(w, title="噪音", category=w.cat_parent.children.exclude(pk=w.cat.pk).first())
    # residents only see candidates they may see: none of the staff's cases
    r = api_as(w.resident).post("cases", payload(w, lat=A_LAT + 0.0003, lng=A_LNG))
    assert r.json()["duplicate_candidates"] == []
    m = api_as(w.worker_a).post(f"cases/{new_id}/merge", {"into_id": first.pk, "note": "同一井盖"})
    assert m.status_code == 200 and m.json()["status"] == "merged" and m.json()["merged_into"] == first.number


def test_C3_transitions_over_the_api_and_illegal_one_is_409(world, api_as):
    w = world
    case = report(w)
    wa, h = api_as(w.worker_a), api_as(w.handler)
    r = wa.post(f"cases/{case.pk}/close", {})
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "case.invalid_transition" and body["detail"]["from"] == "reported" and "accept" in body["detail"]["allowed"]
    assert wa.post(f"cases/{case.pk}/accept", {"note": "受理"}).json()["status"] == "accepted"
    assert h.post(f"cases/{case.pk}/start", {}).status_code in (404, 409)  # not yet dispatched to the handler's org
    r = wa.post(f"cases/{case.pk}/dispatch", {"organisation_id": w.dept.pk, "note": "请处理"})
    assert r.status_code == 200 and r.json()["assigned_org"]["id"] == w.dept.pk
    assert h.post(f"cases/{case.pk}/start", {}).json()["status"] == "in_progress"
    assert h.post(f"cases/{case.pk}/resolve", {"note": ""}).json()["code"] == "case.note_required"
    r = h.post(f"cases/{case.pk}/comments", {"note": "材料已订", "photos": ["cases/x.jpg"]})
    assert r.status_code == 201 and r.json()["kind"] == "commented"
    assert h.post(f"cases/{case.pk}/resolve", {"note": "已修复", "photos": ["cases/y.jpg"]}).json()["status"] == "resolved"
    assert h.post(f"cases/{case.pk}/verify", {}).status_code == 403
    assert api_as(w.grid_worker_a).post(f"cases/{case.pk}/verify", {}).json()["status"] == "verified"
    detail = wa.post(f"cases/{case.pk}/close", {}).json()
    assert detail["status"] == "closed"
    assert [e["kind"] for e in detail["timeline"]] == ["created", "accepted", "dispatched", "started", "commented", "resolved",
                                                        "verified", "closed"]
    assert detail["timeline"][1]["actor"] == "worker_a"


def test_C3_reassign_transfer_cohandle_escalate_over_the_api(world, api_as):
    w = world
    case = report(w)
    wa = api_as(w.worker_a)
    wa.post(f"cases/{case.pk}/accept", {})
    wa.post(f"cases/{case.pk}/dispatch", {"organisation_id": w.dept.pk})
    assert wa.post(f"cases/{case.pk}/reassign", {"organisation_id": w.dept2.pk}).json()["assigned_org"]["id"] == w.dept2.pk
    assert api_as(w.handler2).post(f"cases/{case.pk}/transfer", {"organisation_id": w.dept.pk, "note": "转城管"}).status_code == 200
    r = wa.post(f"cases/{case.pk}/co-handle", {"organisation_ids": [w.property_co.pk]})
    assert r.json()["co_handling_orgs"] == [{"id": w.property_co.pk, "name": w.property_co.name}]
    assert api_as(w.street_supervisor).post(f"cases/{case.pk}/escalate", {"note": "督办"}).json()["escalation_level"] == 1
    assert wa.post(f"cases/{case.pk}/return", {"note": "x"}).status_code == 403  # dispatched → return is the handler's


def test_C4_rate_and_reopen_over_the_api(world, api_as):
    w = world
    case = report(w, actor=w.resident, channel="portal")
    svc.case_accept(actor=w.worker_a, case=case)
    svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    svc.case_start(actor=w.handler, case=case)
    svc.case_resolve(actor=w.handler, case=case, note="ok")
    svc.case_verify(actor=w.grid_worker_a, case=case)
    svc.case_close(actor=w.worker_a, case=case)
    res = api_as(w.resident)
    assert res.post(f"cases/{case.pk}/rate", {"score": 6}).status_code == 422
    r = res.post(f"cases/{case.pk}/rate", {"score": 4, "comment": "还行"})
    assert r.status_code == 201 and r.json()["score"] == 4
    assert res.post(f"cases/{case.pk}/reopen", {"note": "又坏了"}).json()["status"] == "dispatched"
    notes = res.get("cases/notifications").json()["items"]
    assert any(n["case_number"] == case.number for n in notes)


def test_O2_cross_community_isolation_in_lists_and_detail(world, api_as):
    w = world
    a = report(w)
    b = report(w, actor=w.grid_worker_b, lat=B_LAT, lng=B_LNG)
    ca, cb = api_as(w.worker_a), api_as(w.worker_b)
    assert [c["id"] for c in ca.get("cases").json()["items"]] == [a.pk]
    assert [c["id"] for c in cb.get("cases").json()["items"]] == [b.pk]
    assert ca.get(f"cases/{b.pk}").status_code == 404
    assert ca.post(f"cases/{b.pk}/accept", {}).status_code == 404
    assert ca.get(f"cases/{b.pk}/duplicates").status_code == 404
    # the resident sees only their own reports
    assert api_as(w.resident).get("cases").json()["items"] == []
    assert api_as(w.resident).get(f"cases/{a.pk}").status_code == 404


def test_C3_department_sees_cases_assigned_to_it_outside_its_regions(world, api_as):
    w = world
    outsider = f.account("dept_far", perms=["case.view", "case.handle"], scope=w.tree.community_b, organisation=w.dept)
    case = report(w)
    c = api_as(outsider)
    assert c.get(f"cases/{case.pk}").status_code == 404
    svc.case_accept(actor=w.worker_a, case=case)
    svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    assert c.get(f"cases/{case.pk}").status_code == 200
    assert [x["id"] for x in c.get("cases/inbox/org").json()["items"]] == [case.pk]
    assert c.post(f"cases/{case.pk}/start", {}).json()["status"] == "in_progress"


def test_C3_list_filters_inboxes_and_query_count(world, api_as, django_assert_max_num_queries):
    w = world
    for i in range(12):
        case = report(w, title=f"问题{i}")
        if i % 3 == 0:
            svc.case_accept(actor=w.worker_a, case=case)
            svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    c = api_as(w.worker_a)
    with django_assert_max_num_queries(6):
        r = c.get("cases", {"limit": 5})
    page = r.json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    rest = c.get("cases", {"limit": 200, "cursor": page["next_cursor"]}).json()["items"]
    assert len(rest) == 7
    assert len(c.get("cases", {"status": "dispatched"}).json()["items"]) == 4
    assert len(c.get("cases", {"status": "bogus"}).json()["detail"]["allowed"]) == 8
    assert len(c.get("cases", {"category_id": w.cat_parent.pk}).json()["items"]) == 12
    assert len(c.get("cases", {"region_id": w.tree.grid_b.pk}).json()["items"]) == 0
    assert c.get("cases", {"overdue": True}).json()["items"] == []
    assert len(c.get("cases", {"q": "问题1"}).json()["items"]) == 3  # 问题1, 问题10, 问题11
    assert len(api_as(w.grid_worker_a).get("cases/inbox/mine").json()["items"]) == 12
    with django_assert_max_num_queries(6):
        assert len(api_as(w.handler).get("cases/inbox/org").json()["items"]) == 4
    assert len(c.get("cases/inbox/area").json()["items"]) == 12
    assert c.get("cases/inbox/nope").status_code == 404
    Case.objects.update(due_at=Case.objects.first().sla_started_at, warn_at=Case.objects.first().sla_started_at,
                        sla_started_at=Case.objects.first().sla_started_at)
    assert len(c.get("cases/inbox/overdue").json()["items"]) == 12
    with django_assert_max_num_queries(8):
        c.get(f"cases/{case.pk}")


def test_C2_routing_rules_crud_needs_case_config(world, api_as):
    w = world
    admin = api_as(w.config_admin)
    r = admin.post("cases/routing-rules", {"region_id": w.tree.community_a.pk, "category_id": w.cat.pk, "organisation_id": w.property_co.pk,
                                           "time_limit_hours": 24, "priority": "high"})
    assert r.status_code == 201, r.content
    rule_id = r.json()["id"]
    assert admin.post("cases/routing-rules", {"region_id": w.tree.community_a.pk, "category_id": w.cat.pk,
                                              "organisation_id": w.dept.pk}).status_code == 409
    assert admin.patch(f"cases/routing-rules/{rule_id}", {"organisation_id": w.dept.pk}).json()["organisation"]["id"] == w.dept.pk
    assert [x["id"] for x in admin.get("cases/routing-rules").json()["items"]] == [rule_id]
    assert api_as(w.worker_a).post("cases/routing-rules", {"region_id": w.tree.community_a.pk,
                                                           "organisation_id": w.dept.pk}).status_code == 403
    assert api_as(w.worker_a).get(f"cases/routing-rules/{rule_id}").status_code == 404
    city_admin = api_as(f.account(perms=["case.config"], scope=w.tree.community_b))
    assert city_admin.post("cases/routing-rules", {"region_id": w.tree.city.pk, "organisation_id": w.dept.pk}).status_code == 404
    case = report(w)
    assert case.assigned_org == w.dept and case.priority == "high" and case.time_limit_hours == 24
    assert admin.delete(f"cases/routing-rules/{rule_id}").status_code == 204
    assert not RoutingRule.objects.exists()


def test_C3_notifications_list_and_mark_read(world, api_as):
    w = world
    case = report(w)
    svc.case_accept(actor=w.worker_a, case=case)
    svc.case_dispatch(actor=w.worker_a, case=case, to=w.dept)
    c = api_as(w.handler)
    items = c.get("cases/notifications", {"unread": True}).json()["items"]
    assert len(items) == 1 and items[0]["kind"] == "assigned"
    assert c.post("cases/notifications/read", {"ids": [items[0]["id"]]}).json() == {"count": 1}
    assert c.get("cases/notifications", {"unread": True}).json()["items"] == []
    # someone else's notification cannot be marked
    assert api_as(w.worker_a).post("cases/notifications/read", {"ids": [items[0]["id"]]}).json() == {"count": 0}
    assert Notification.objects.filter(read_at__isnull=False).count() == 1


def test_C1_categories_and_case_numbers(world, api_as):
    w = world
    cats = api_as(w.resident).get("cases/categories").json()["items"]
    assert {"facility-road", "iot-alarm"} <= {c["code"] for c in cats}
    a, b = report(w), report(w)
    assert int(b.number[-4:]) == int(a.number[-4:]) + 1 and a.number[1:9] == b.number[1:9]
    assert CaseEvent.objects.filter(case=a).count() == 1


def test_C1_iot_alarm_intake_is_idempotent_by_external_ref(world):
    w = world
    device = f.account("iot-gateway", perms=["case.view", "case.intake"], scope=w.tree.district, kind="service")
    first = report(w, actor=device, channel="iot", category=w.urgent, title="井盖位移告警", external_ref="alarm-42")
    again = report(w, actor=device, channel="iot", category=w.urgent, title="井盖位移告警", external_ref="alarm-42")
    assert again.pk == first.pk and Case.objects.filter(channel="iot").count() == 1
    assert first.priority == "urgent" and not first.working_hours and first.reporter_account is None
    other = report(w, actor=device, channel="iot", category=w.urgent, title="另一告警", external_ref="alarm-43")
    assert other.pk != first.pk


def test_C4_league_table_per_month_by_department_and_grid(world, api_as):
    import datetime as dt

    import time_machine

    w = world

    def closed(org, *, late=False, score=None, reopen=False):
        with time_machine.travel(dt.datetime(2026, 11, 10, 1, tzinfo=dt.UTC), tick=False):
            case = report(w, actor=w.resident, channel="portal")
            svc.case_accept(actor=w.worker_a, case=case)
            svc.case_dispatch(actor=w.worker_a, case=case, to=org)
        when = dt.datetime(2026, 12, 30, 1, tzinfo=dt.UTC) if late else dt.datetime(2026, 11, 10, 3, tzinfo=dt.UTC)
        handler = w.handler if org == w.dept else w.handler2
        with time_machine.travel(when, tick=False):
            svc.case_start(actor=handler, case=case)
            svc.case_resolve(actor=handler, case=case, note="ok")
            svc.case_verify(actor=w.grid_worker_a, case=case)
            svc.case_close(actor=w.worker_a, case=case)
            if score:
                svc.case_rate(actor=w.resident, case=case, score=score)
            if reopen:
                svc.case_reopen(actor=w.resident, case=case, note="again")
        return case

    closed(w.dept, score=5)
    closed(w.dept, score=3, late=True)
    closed(w.dept2, score=2, reopen=True)
    with time_machine.travel(dt.datetime(2026, 10, 5, 1, tzinfo=dt.UTC), tick=False):
        report(w)  # October: not in November's table
    c = api_as(w.district_supervisor)
    rows = c.get("cases/stats/league", {"month": "2026-11"}).json()
    assert [r["name"] for r in rows] == ["区城市管理局", "区住房和城乡建设局"]
    d1, d2 = rows
    assert (d1["cases"], d1["resolved"], d1["on_time"], d1["on_time_rate"], d1["satisfaction"], d1["ratings"]) == (2, 2, 1, 0.5, 4.0, 2)
    assert d2["reopened"] == 1 and d2["reopen_rate"] == 1.0 and d2["satisfaction"] == 2.0
    grids = c.get("cases/stats/league", {"month": "2026-11", "by": "grid"}).json()
    assert [(g["id"], g["cases"]) for g in grids] == [(w.tree.grid_a.pk, 3)]
    assert c.get("cases/stats/league", {"month": "2026-11", "org_type": "property_company"}).json() == []
    assert c.get("cases/stats/league", {"month": "2026-13"}).status_code == 422
    # scope: community B's worker sees nothing of community A
    assert api_as(w.worker_b).get("cases/stats/league", {"month": "2026-11"}).json() == []
