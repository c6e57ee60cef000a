"""Grid patrol in the browser (C6): the grid worker opens today's task, starts it, checks in with the
browser's geolocation and a photo, reports a finding in one tap (a patrol case), with axe checks."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from linli.cases.models import Case, Category
from linli.patrols import services as svc
from linli.patrols.models import CheckIn, PatrolTask
from tests.e2e.conftest import assert_accessible, console_login
from tests.patrols.world import POINTS_A, ensure_roles, seeded

pytestmark = pytest.mark.e2e
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def patrol(e2e_tree, settings, tmp_path):
    from linli.places import spatial

    settings.MEDIA_ROOT = tmp_path
    ensure_roles()
    spatial.invalidate()
    t = e2e_tree
    manager = seeded("e2e_manager", "community_worker", t.community_a)
    worker = seeded("e2e_gw", "grid_worker", t.grid_a)
    route = svc.route_create(actor=manager, region=t.grid_a, name="甲一网格日常巡查",
                             checkpoints=[svc.CheckpointIn(n, lat, lng) for n, lat, lng in POINTS_A])
    now = timezone.localtime()
    task = PatrolTask.objects.create(route=route, region=t.grid_a, worker=worker, date=now.date(), window_start=now - dt.timedelta(hours=1),
                                     window_end=now + dt.timedelta(hours=3), checkpoint_total=3, assigned_by=manager)
    return {"task": task, "worker": worker}


def test_C6_worker_checks_in_with_geolocation_and_photo_and_reports_a_finding(browser, live_server, patrol):
    base = live_server.url
    name, lat, lng = POINTS_A[0]
    ctx = browser.new_context(locale="zh-CN", geolocation={"latitude": lat + 0.0001, "longitude": lng, "accuracy": 8},
                              permissions=["geolocation"], viewport={"width": 412, "height": 915})  # a phone
    page = ctx.new_page()
    console_login(page, base, "e2e_gw")
    page.goto(f"{base}/console/patrols/")
    expect(page.locator("h2#my-h")).to_contain_text("我的今日任务")
    assert_accessible(page)
    page.get_by_role("link", name="甲一网格日常巡查").click()
    page.get_by_role("button", name="开始巡查").click()
    expect(page.locator(".messages")).to_contain_text("已开始巡查")
    expect(page.locator("#task-map")).to_have_attribute("data-checkpoints", "3")
    assert_accessible(page)

    form = page.locator("#checkin-form")
    expect(form.get_by_label("点位")).to_have_value(str(patrol["task"].route.checkpoints.get(seq=1).pk))
    form.get_by_role("button", name="获取当前位置").click()
    expect(form.get_by_label("纬度")).to_have_value(re.compile(r"^36\.652"))
    form.get_by_label("现场照片").set_input_files({"name": "gate.png", "mimeType": "image/png", "buffer": PNG})
    form.get_by_role("button", name="打卡", exact=True).click()
    expect(page.locator(".messages")).to_contain_text(f"已在{name}打卡")
    checkin = CheckIn.objects.get()
    assert checkin.off_route is False and checkin.source == "gps" and len(checkin.photos) == 1 and checkin.accuracy_m == 8
    expect(page.locator(".checkpoints li.reached")).to_have_count(1)

    cat = Category.objects.get(code="facility-road")
    finding = page.locator("#finding-form")
    finding.get_by_label("问题分类").select_option(str(cat.pk))
    finding.get_by_label("标题").fill("东门路面塌陷")
    finding.get_by_label("问题描述").fill("门口约一平方米塌陷，已设置警示")
    expect(finding.get_by_label("位置与照片取自")).to_have_value(str(checkin.pk))
    finding.get_by_role("button", name="一键上报").click()
    expect(page.locator(".messages")).to_contain_text("已上报为事件工单")
    case = Case.objects.get()
    assert case.channel == "patrol" and case.photos == checkin.photos and (case.lat, case.lng) == (checkin.lat, checkin.lng)
    expect(page.get_by_role("link", name=re.compile(case.number))).to_be_visible()
    assert_accessible(page)
    ctx.close()
