"""/api/v1/patrols (C6): routes, tasks with filters and query counts, transitions, check-ins,
finding → case, coverage and tracks, scope (404) and permissions (403)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from linli.cases.models import Case, Category
from linli.patrols import services as svc
from linli.patrols.models import PatrolTask

from .world import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_C6_api_route_create_get_patch_and_scope(world, api_as):
    w = world
    c = api_as(w.manager_a)
    body = {"region_id": w.tree.grid_a.pk, "name": "夜巡路线", "tolerance_m": 40,
            "checkpoints": [{"name": "一号楼", "lat": 36.651, "lng": 117.001}, {"name": "二号楼", "lat": 36.652, "lng": 117.003, "tolerance_m": 25}]}
    r = c.post("patrols/routes", body)
    assert r.status_code == 201, r.content
    route = r.json()
    assert [(p["seq"], p["name"], p["tolerance_m"]) for p in route["checkpoints"]] == [(1, "一号楼", 40), (2, "二号楼", 25)]
    r = c.patch(f"patrols/routes/{route['id']}", {"is_active": False, "checkpoints": [{"id": route["checkpoints"][1]["id"], "name": "二号楼",
                                                                                      "lat": 36.652, "lng": 117.003}]})
    assert r.status_code == 200 and r.json()["is_active"] is False and len(r.json()["checkpoints"]) == 1
    assert api_as(w.manager_b).get(f"patrols/routes/{route['id']}").status_code == 404
    assert api_as(w.manager_b).post("patrols/routes", {**body, "name": "越界"}).status_code == 404
    assert api_as(w.viewer).post("patrols/routes", {**body, "name": "无权"}).status_code == 403
    assert api_as(w.gw_a).get(f"patrols/routes/{route['id']}").status_code == 200  # a worker sees the routes of the grid
    assert c.post("patrols/routes", {**body, "name": ""}).status_code == 422
    r = c.post("patrols/routes", {**body, "name": "坏点", "checkpoints": [{"name": "x", "lat": 99, "lng": 117}]})
    assert r.status_code == 422
    listed = c.get("patrols/routes", {"region_id": w.tree.grid_a.pk}).json()["items"]
    assert {x["name"] for x in listed} == {"甲一网格日常巡查", "夜巡路线"} and {x["checkpoint_count"] for x in listed} == {3, 1}
    assert api_as(w.manager_b).get("patrols/routes").json()["items"] == []


def test_C6_api_full_journey_plan_start_checkin_finding_finish(world, api_as):
    w = world
    m, g = api_as(w.manager_a), api_as(w.gw_a)
    r = m.post("patrols/tasks", {"route_id": w.route_a.pk, "worker_id": w.gw_a.pk, "date": str(NOW.date()), "start": "08:30", "end": "11:30"})
    assert r.status_code == 201, r.content
    task_id = r.json()["id"]
    assert r.json()["status"] == "planned" and r.json()["worker"]["name"] == "gw_a"
    assert m.post(f"patrols/tasks/{task_id}/start").status_code == 403
    assert api_as(w.gw_b).post(f"patrols/tasks/{task_id}/start").status_code == 404
    r = g.post(f"patrols/tasks/{task_id}/start")
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    assert g.post(f"patrols/tasks/{task_id}/start").json()["code"] == "patrol.invalid_transition"
    first = r.json()["checkpoints"][0]
    r = g.post(f"patrols/tasks/{task_id}/checkins", {"lat": first["lat"], "lng": first["lng"], "accuracy_m": 6, "checkpoint_id": first["id"],
                                                     "photos": ["patrols/2026/12/gate.jpg"]})
    assert r.status_code == 201 and r.json()["off_route"] is False and r.json()["checkpoint"]["name"] == "东门"
    checkin_id = r.json()["id"]
    r = g.post(f"patrols/tasks/{task_id}/checkins", {"lat": 36.659, "lng": 117.0})
    assert r.status_code == 201 and r.json()["off_route"] is True and r.json()["checkpoint"] is None
    assert g.post(f"patrols/tasks/{task_id}/checkins", {"lat": 36.652, "lng": 117.002, "checkpoint_id": 999999}).status_code == 404
    assert g.post(f"patrols/tasks/{task_id}/checkins", {"lat": 136, "lng": 117.002}).status_code == 422
    cat = Category.objects.get(code="facility-road")
    r = g.post(f"patrols/tasks/{task_id}/findings", {"category_id": cat.pk, "title": "路灯杆倾斜", "checkin_id": checkin_id})
    assert r.status_code == 201, r.content
    finding = r.json()
    assert finding["case_channel"] == "patrol" and finding["case_region"]["id"] == w.tree.grid_a.pk
    case = Case.objects.get(pk=finding["case_id"])
    assert case.photos == ["patrols/2026/12/gate.jpg"] and case.number == finding["case_number"]
    r = g.post(f"patrols/tasks/{task_id}/findings", {"category_id": cat.pk, "title": "路灯杆倾斜", "checkin_id": checkin_id})
    assert r.status_code == 409 and r.json()["code"] == "patrol.duplicate_candidates"
    assert r.json()["detail"]["candidates"][0]["number"] == case.number
    r = g.post(f"patrols/tasks/{task_id}/findings", {"category_id": cat.pk, "title": "更多照片", "checkin_id": checkin_id, "add_to_case_id": case.pk})
    assert r.status_code == 201 and r.json()["id"] == finding["id"]  # one link per case and patrol; the comment carries the news
    assert case.events.filter(kind="commented").count() == 1
    assert g.post(f"patrols/tasks/{task_id}/findings", {"category_id": 999999, "title": "x", "lat": 36.653, "lng": 117.003}).status_code == 404
    r = g.post(f"patrols/tasks/{task_id}/finish", {})
    assert r.status_code == 422 and r.json()["code"] == "patrol.note_required"
    r = g.post(f"patrols/tasks/{task_id}/finish", {"note": "北侧两点施工封闭"})
    assert r.status_code == 200 and r.json()["status"] == "done" and r.json()["coverage"] == 33
    detail = m.get(f"patrols/tasks/{task_id}").json()
    assert len(detail["checkins"]) == 2 and detail["findings"][0]["case_number"] == case.number


def test_C6_api_recurring_assign_cancel(world, api_as):
    w = world
    m = api_as(w.manager_a)
    body = {"route_id": w.route_a.pk, "worker_id": w.gw_a.pk, "date_from": str(NOW.date()), "date_to": str(NOW.date() + dt.timedelta(days=13)),
            "start": "14:00", "end": "16:00", "frequency": "weekly", "weekdays": [2, 5]}
    r = m.post("patrols/tasks/recurring", body)
    assert r.status_code == 201 and len(r.json()) == 4
    assert m.post("patrols/tasks/recurring", body).json() == []
    assert m.post("patrols/tasks/recurring", {**body, "frequency": "monthly"}).status_code == 422
    assert api_as(w.gw_a).post("patrols/tasks/recurring", body).status_code == 403
    task_id = r.json()[0]["id"]
    assert m.post(f"patrols/tasks/{task_id}/assign", {"worker_id": w.gw_b.pk}).json()["code"] == "patrol.worker_out_of_scope"
    r = m.post(f"patrols/tasks/{task_id}/cancel", {"note": "台风"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert api_as(w.manager_b).post(f"patrols/tasks/{task_id}/cancel", {}).status_code == 404


def test_C6_api_task_list_filters_scope_and_query_count(world, api_as, django_assert_max_num_queries):
    w = world
    route_b = svc.route_create(actor=w.manager_b, region=w.tree.grid_b, name="乙一网格巡查", checkpoints=[svc.CheckpointIn("乙门", 36.652, 117.012)])
    for d in range(6):
        day = NOW.date() + dt.timedelta(days=d)
        w.task(day=day)
        svc.task_plan(actor=w.manager_b, route=route_b, worker=w.gw_b, date=day, start=dt.time(14), end=dt.time(15))
    svc.task_start(actor=w.gw_a, task=PatrolTask.objects.get(worker=w.gw_a, date=NOW.date()))
    m = api_as(w.manager_a)
    with django_assert_max_num_queries(6):
        page = m.get("patrols/tasks", {"limit": 4}).json()
    assert len(page["items"]) == 4 and page["next_cursor"]
    assert {t["region"]["id"] for t in page["items"]} == {w.tree.grid_a.pk}
    assert len(m.get("patrols/tasks", {"limit": 200}).json()["items"]) == 6
    assert len(m.get("patrols/tasks", {"date": str(NOW.date())}).json()["items"]) == 1
    assert len(m.get("patrols/tasks", {"status": "in_progress"}).json()["items"]) == 1
    assert m.get("patrols/tasks", {"status": "lost"}).json()["code"] == "patrol.status_invalid"
    assert len(m.get("patrols/tasks", {"worker_id": w.gw_b.pk}).json()["items"]) == 0
    assert len(m.get("patrols/tasks", {"region_id": w.tree.grid_b.pk}).json()["items"]) == 0
    viewer = api_as(w.viewer)  # the street sees both communities
    with django_assert_max_num_queries(6):
        assert len(viewer.get("patrols/tasks", {"limit": 200}).json()["items"]) == 12
    assert len(viewer.get("patrols/tasks", {"region_id": w.tree.grid_b.pk, "date_from": str(NOW.date() + dt.timedelta(days=4))}).json()["items"]) == 2
    mine = api_as(w.gw_a).get("patrols/tasks", {"mine": True}).json()["items"]
    assert len(mine) == 6 and {t["worker"]["id"] for t in mine} == {w.gw_a.pk}
    assert api_as(w.gw_a).get("patrols/tasks", {"worker_id": w.gw_b.pk}).json()["items"] == []
    assert api_as(w.outsider).get("patrols/tasks").json()["items"] == []
    other = PatrolTask.objects.filter(worker=w.gw_b).first()
    assert api_as(w.gw_a).get(f"patrols/tasks/{other.pk}").status_code == 404
    assert m.get(f"patrols/tasks/{other.pk}").status_code == 404


def test_C6_api_checkins_coverage_and_tracks(world, api_as, django_assert_max_num_queries):
    w = world
    task = svc.task_start(actor=w.gw_a, task=w.task())
    for p in w.route_a.checkpoints.order_by("seq")[:2]:
        svc.task_check_in(actor=w.gw_a, task=task, lat=p.lat, lng=p.lng, checkpoint=p)
    svc.task_check_in(actor=w.gw_a, task=task, lat=36.659, lng=117.0)
    second = svc.task_start(actor=w.gw_a, task=w.task(start=dt.time(9), end=dt.time(10)))
    last = w.route_a.checkpoints.get(seq=3)
    svc.task_check_in(actor=w.gw_a, task=second, lat=last.lat, lng=last.lng, checkpoint=last)
    m = api_as(w.manager_a)
    with django_assert_max_num_queries(6):
        items = m.get("patrols/checkins", {"date": str(NOW.date())}).json()["items"]
    assert len(items) == 4
    assert len(m.get("patrols/checkins", {"off_route": True}).json()["items"]) == 1
    assert api_as(w.manager_b).get("patrols/checkins").json()["items"] == []
    with django_assert_max_num_queries(6):
        cov = m.get("patrols/coverage", {"date_from": str(NOW.date()), "date_to": str(NOW.date())}).json()
    assert cov == [{"route_id": w.route_a.pk, "route_name": "甲一网格日常巡查", "region_name": "甲一网格", "date": str(NOW.date()),
                    "planned": 3, "reached": 3, "coverage": 100, "tasks": 2, "done": 0, "missed": 0, "in_progress": 2, "workers": ["gw_a"]}]
    assert m.get("patrols/coverage", {"date_from": "2026-12-02", "date_to": "2026-01-01"}).status_code == 422
    with django_assert_max_num_queries(6):
        tracks = m.get("patrols/tracks", {"date": str(NOW.date())}).json()
    assert len(tracks) == 1 and tracks[0]["worker"]["id"] == w.gw_a.pk and len(tracks[0]["points"]) == 4
    assert [p["off_route"] for p in tracks[0]["points"]].count(True) == 1
    assert api_as(w.manager_b).get("patrols/tracks", {"date": str(NOW.date())}).json() == []


def test_C6_openapi_documents_the_patrol_endpoints(db):
    from django.test import Client

    spec = Client().get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    for p in ("/api/v1/patrols/routes", "/api/v1/patrols/tasks", "/api/v1/patrols/tasks/recurring", "/api/v1/patrols/tasks/{task_id}/checkins",
              "/api/v1/patrols/tasks/{task_id}/findings", "/api/v1/patrols/checkins", "/api/v1/patrols/coverage", "/api/v1/patrols/tracks"):
        assert p in paths, p
    assert "FindingBrief" in str(spec["components"]["schemas"]["TaskDetailOut"])
