"""Console pages of grid patrols (C6): the worker's day (start, check in with photo, one-tap finding
with duplicates, finish), the manager's routes, planning and "who patrolled where" map, scope."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from linli.cases.models import Case, CaseEvent, Category
from linli.patrols import services as svc
from linli.patrols.models import CheckIn, PatrolRoute, PatrolTask

from .world import NOW

pytestmark = pytest.mark.django_db
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture(autouse=True)
def _env(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with time_machine.travel(NOW, tick=False):
        yield


def as_(account) -> Client:
    c = Client()
    c.force_login(account)
    return c


def png(name="p.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def test_C6_worker_home_shows_my_tasks_today_and_nav_entry(world, django_assert_max_num_queries):
    w = world
    task = w.task()
    w.task(day=NOW.date() + dt.timedelta(days=1))
    c = as_(w.gw_a)
    with django_assert_max_num_queries(12):
        r = c.get(reverse("console:patrols_home"))
    html = r.content.decode()
    assert r.status_code == 200 and "我的今日任务" in html and reverse("console:patrols_task", args=[task.pk]) in html
    assert html.count("甲一网格日常巡查") == 1  # tomorrow's task is not on today's page
    assert "网格巡查" in html and "巡查轨迹与覆盖" not in html  # nav entry; no manager tabs for a worker
    assert as_(w.outsider).get(reverse("console:patrols_home")).status_code == 403


def test_C6_worker_starts_checks_in_with_photo_reports_finding_and_finishes(world):
    w = world
    task = w.task()
    c = as_(w.gw_a)
    page = c.get(reverse("console:patrols_task", args=[task.pk])).content.decode()
    assert "开始巡查" in page and "一键上报" not in page
    r = c.post(reverse("console:patrols_start", args=[task.pk]))
    assert r.status_code == 302
    page = c.get(reverse("console:patrols_task", args=[task.pk])).content.decode()
    assert "获取当前位置" in page and "发现问题，一键上报" in page and "完成巡查" in page
    first = w.route_a.checkpoints.get(seq=1)
    r = c.post(reverse("console:patrols_checkin", args=[task.pk]),
               {"checkpoint": first.pk, "lat": str(first.lat), "lng": str(first.lng), "accuracy": "7", "source": "gps", "photos": [png()]})
    assert r.status_code == 302
    checkin = CheckIn.objects.get(task=task)
    assert checkin.checkpoint == first and not checkin.off_route and len(checkin.photos) == 1 and checkin.photos[0].startswith("patrols/")
    photo = c.get(reverse("console:patrols_photo", args=[task.pk]), {"ref": checkin.photos[0]})
    assert photo.status_code == 200 and b"".join(photo.streaming_content) == PNG
    assert c.get(reverse("console:patrols_photo", args=[task.pk]), {"ref": "patrols/other.png"}).status_code == 404
    cat = Category.objects.get(code="facility-road")
    r = c.post(reverse("console:patrols_finding", args=[task.pk]), {"category": cat.pk, "title": "路面坑洼", "description": "东门外",
                                                                   "checkin": checkin.pk, "photos": [png("close.png")]})
    assert r.status_code == 302
    case = Case.objects.get()
    assert case.channel == "patrol" and len(case.photos) == 2 and case.photos[0] == checkin.photos[0]
    page = c.get(reverse("console:patrols_task", args=[task.pk])).content.decode()
    assert case.number in page
    r = c.post(reverse("console:patrols_finish", args=[task.pk]), {"note": ""})
    assert r.status_code == 422 and "未到达" in r.content.decode()
    r = c.post(reverse("console:patrols_finish", args=[task.pk]), {"note": "其余点位道路封闭"})
    assert r.status_code == 302 and PatrolTask.objects.get(pk=task.pk).status == "done"


def test_C6_console_checkin_by_map_pick_off_route_and_errors(world):
    w = world
    task = svc.task_start(actor=w.gw_a, task=w.task())
    c = as_(w.gw_a)
    data = c.get(reverse("console:patrols_task_map", args=[task.pk])).json()
    assert [p["name"] for p in data["checkpoints"]] == ["东门", "中心花园", "北侧车棚"] and data["checkins"] == []
    assert data["boundaries"]["features"][0]["properties"]["name"] == "甲一网格"
    r = c.post(reverse("console:patrols_checkin", args=[task.pk]), {"checkpoint": "", "lat": "", "lng": ""})
    assert r.status_code == 422 and "请先获取定位" in r.content.decode()
    r = c.post(reverse("console:patrols_checkin", args=[task.pk]), {"checkpoint": "", "lat": "36.6595", "lng": "117.0005", "source": "map"}, follow=True)
    assert "偏离路线" in r.content.decode()
    c_in = CheckIn.objects.get()
    assert c_in.source == "map" and c_in.off_route
    bad = SimpleUploadedFile("x.txt", b"hello", content_type="text/plain")
    r = c.post(reverse("console:patrols_checkin", args=[task.pk]), {"lat": "36.652", "lng": "117.002", "photos": [bad]})
    assert r.status_code == 422 and CheckIn.objects.count() == 1
    assert as_(w.gw_b).get(reverse("console:patrols_task", args=[task.pk])).status_code == 404
    assert as_(w.manager_a).post(reverse("console:patrols_checkin", args=[task.pk]), {"lat": "36.652", "lng": "117.002"}).status_code == 403


def test_C6_console_finding_offers_duplicates_and_keeps_photos_for_second_step(world):
    w = world
    task = svc.task_start(actor=w.gw_a, task=w.task())
    cat = Category.objects.get(code="facility-road")
    existing = svc.finding_report(actor=w.gw_a, task=task, category=cat, title="路面塌陷", lat=36.653, lng=117.003).case
    c = as_(w.gw_a)
    url = reverse("console:patrols_finding", args=[task.pk])
    post = {"category": cat.pk, "title": "塌陷扩大", "checkin": "", "lat": "36.6531", "lng": "117.003"}
    r = c.post(url, {**post, "photos": [png()]})
    html = r.content.decode()
    assert r.status_code == 409 and existing.number in html and "补充到此工单" in html and "仍然上报" in html
    held = r.context["held"]
    assert held and r.context["held_count"] == 1
    r = c.post(url, {**post, "held": held, "add_to": existing.pk})
    assert r.status_code == 302
    comment = CaseEvent.objects.get(case=existing, kind="commented")
    assert len(comment.photos) == 1 and comment.photos[0].startswith("patrols/")
    r = c.post(url, {**post, "held": "forged", "confirm_new": "1"})
    assert r.status_code == 302 and Case.objects.count() == 2 and Case.objects.order_by("-id").first().photos == []


def test_C6_manager_routes_editor_plan_and_task_management(world):
    w = world
    c = as_(w.manager_a)
    r = c.get(reverse("console:patrols_routes"))
    assert r.status_code == 200 and "甲一网格日常巡查" in r.content.decode()
    assert c.get(reverse("console:patrols_route_new")).status_code == 200
    r = c.post(reverse("console:patrols_route_new"), {
        "name": "夜巡", "region": w.tree.grid_a.pk, "tolerance_m": "40", "description": "",
        "cp_id": ["", "", ""], "cp_name": ["西门", "菜市场", ""], "cp_lat": ["36.651", "36.654", ""], "cp_lng": ["117.001", "117.004", ""],
        "cp_tol": ["", "30", ""],
    })
    assert r.status_code == 302, r.content.decode()[:500]
    route = PatrolRoute.objects.get(name="夜巡")
    assert [(p.name, p.tolerance_m) for p in route.checkpoints.order_by("seq")] == [("西门", 40), ("菜市场", 30)]
    page = c.get(reverse("console:patrols_route", args=[route.pk])).content.decode()
    assert 'value="西门"' in page and 'id="route-map"' in page
    r = c.post(reverse("console:patrols_route", args=[route.pk]), {"name": "夜巡", "region": w.tree.grid_a.pk, "tolerance_m": "40", "is_active": "on",
                                                                   "cp_id": [""], "cp_name": ["无坐标"], "cp_lat": [""], "cp_lng": [""], "cp_tol": [""]})
    assert r.status_code == 422 and "缺少经纬度" in r.content.decode() and 'value="无坐标"' in r.content.decode()
    assert c.get(reverse("console:patrols_grids")).json()["features"][0]["properties"]["name"] == "甲一网格"
    assert c.get(reverse("console:patrols_plan")).status_code == 200
    r = c.post(reverse("console:patrols_plan"), {"route": route.pk, "worker": w.gw_a.pk, "date": str(NOW.date()), "start": "14:00",
                                                 "end": "16:00", "repeat": "weekly", "date_to": str(NOW.date() + dt.timedelta(days=13)),
                                                 "weekdays": ["0", "2"]})
    assert r.status_code == 302 and PatrolTask.objects.filter(route=route).count() == 4
    r = c.post(reverse("console:patrols_plan"), {"route": route.pk, "worker": w.gw_b.pk, "date": str(NOW.date()), "start": "14:00", "end": "16:00",
                                                 "repeat": "once"})
    assert r.status_code == 422 and "没有此区域的巡查权限" in r.content.decode()
    task = PatrolTask.objects.filter(route=route).order_by("window_start").first()
    page = c.get(reverse("console:patrols_task", args=[task.pk])).content.decode()
    assert "任务管理" in page and "打卡" not in page.split("任务管理")[1].split("打卡记录")[0]
    r = c.post(reverse("console:patrols_manage", args=[task.pk, "cancel"]), {"note": "大雨"})
    assert r.status_code == 302 and PatrolTask.objects.get(pk=task.pk).status == "cancelled"
    assert c.post(reverse("console:patrols_manage", args=[task.pk, "nope"])).status_code == 404
    assert as_(w.gw_a).get(reverse("console:patrols_plan")).status_code == 403
    assert as_(w.manager_b).get(reverse("console:patrols_route", args=[route.pk])).status_code == 404


def test_C6_who_patrolled_where_map_and_coverage_table(world, django_assert_max_num_queries):
    w = world
    task = svc.task_start(actor=w.gw_a, task=w.task())
    for p in w.route_a.checkpoints.order_by("seq")[:2]:
        svc.task_check_in(actor=w.gw_a, task=task, lat=p.lat, lng=p.lng, checkpoint=p)
    svc.task_check_in(actor=w.gw_a, task=task, lat=36.659, lng=117.0)
    c = as_(w.manager_a)
    with django_assert_max_num_queries(14):
        r = c.get(reverse("console:patrols_map"), {"date": str(NOW.date())})
    html = r.content.decode()
    assert r.status_code == 200 and "2/3" in html and "67%" in html and "gw_a" in html
    with django_assert_max_num_queries(10):
        data = c.get(reverse("console:patrols_map_data"), {"date": str(NOW.date())}).json()
    assert len(data["tracks"]) == 1 and len(data["tracks"][0]["points"]) == 3 and data["tracks"][0]["points"][2]["off_route"] is True
    assert [cp["reached"] for cp in data["checkpoints"]] == [True, True, False]
    assert data["boundaries"]["features"][0]["properties"]["name"] == "甲一网格"
    other = as_(w.manager_b).get(reverse("console:patrols_map_data"), {"date": str(NOW.date())}).json()
    assert other["tracks"] == [] and other["checkpoints"] == []
    for d in range(1, 8):
        w.task(day=NOW.date() + dt.timedelta(days=d))
    with django_assert_max_num_queries(14):
        home = c.get(reverse("console:patrols_home"), {"date": str(NOW.date())}).content.decode()
    assert "2/3" in home and "巡查中" in home
    with django_assert_max_num_queries(14):
        page = c.get(reverse("console:patrols_task", args=[task.pk]))
    assert page.status_code == 200 and "打卡记录" in page.content.decode() and "一键上报" not in page.content.decode()
    with django_assert_max_num_queries(10):
        assert "甲一网格日常巡查" in c.get(reverse("console:patrols_routes")).content.decode()
    assert as_(w.gw_a).get(reverse("console:patrols_map")).status_code == 403
