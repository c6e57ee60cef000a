"""Grid patrol in the browser (C6): the grid worker opens today's task, starts it, checks in with the
browser's geolocation and a photo, reports a finding in one tap (a patrol case); the manager builds a
route by clicking checkpoints on the map; "who patrolled where" shows each worker's day within the
viewer's scope. With axe checks."""

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


# ---- the manager's screens: the route editor and "who patrolled where" -----------------------------------------


def _boundary_box(page, selector: str, *, paths: int = 1) -> dict:
    """The pixel box of the one grid boundary on a Leaflet map, once the map shows ``paths`` shapes (the
    boundary, drawn first, and the markers)."""
    shapes = page.locator(f"{selector} .leaflet-overlay-pane path")
    expect(shapes).to_have_count(paths, timeout=20_000)
    box = shapes.first.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, box
    return box


def _click_map(page, box: dict, lat: float, lng: float, *, west: float = 117.0, south: float = 36.65, size: float = 0.01) -> None:
    """Click the map where (lat, lng) lies inside the grid square drawn in ``box`` (linear over 0.01°)."""
    page.mouse.click(box["x"] + (lng - west) / size * box["width"], box["y"] + (south + size - lat) / size * box["height"])


def test_C6_route_editor_adds_checkpoints_on_the_map_removes_and_moves_one_and_saves(browser, live_server, e2e_tree, settings):
    from linli.patrols.models import Checkpoint, PatrolRoute

    ensure_roles()
    t = e2e_tree
    seeded("e2e_manager", "community_worker", t.community_a)
    base = live_server.url
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    console_login(page, base, "e2e_manager")
    page.goto(f"{base}/console/patrols/routes/")
    expect(page.locator("h1")).to_have_text("巡查路线")
    page.get_by_role("link", name="新建路线").click()
    expect(page.locator("h1")).to_have_text("新建巡查路线")
    page.get_by_label("路线名称（必填）").fill("甲一网格夜间巡查")
    page.get_by_label("所属社区/网格").select_option(str(t.grid_a.pk))
    page.get_by_label("默认打卡半径（米，5–1000）").fill("40")
    box = _boundary_box(page, "#route-map")
    assert_accessible(page)

    rows = page.locator("#cp-rows tr.cp-row")
    filled = page.locator("#route-map .leaflet-overlay-pane path")  # the grid + one marker per located row
    targets = [(36.6515, 117.0015), (36.6545, 117.0045), (36.6575, 117.0075), (36.6585, 117.0025)]
    for i, (lat, lng) in enumerate(targets, start=1):
        _click_map(page, box, lat, lng)
        expect(rows.nth(i - 1).get_by_label("点位名称")).to_have_value(f"点位{i}")
        expect(filled).to_have_count(1 + i)
    expect(rows).to_have_count(4)  # two blank rows came with the page, two more were added by the clicks
    for i, (lat, lng) in enumerate(targets):
        assert abs(float(rows.nth(i).get_by_label("纬度").input_value()) - lat) < 0.0004
        assert abs(float(rows.nth(i).get_by_label("经度").input_value()) - lng) < 0.0004
    for i, name in enumerate(["西门岗亭", "菜市场", "北侧车棚", "幼儿园"]):
        rows.nth(i).get_by_label("点位名称").fill(name)

    rows.nth(1).get_by_role("button", name="删除").click()  # 菜市场 goes; the rest move up
    expect(rows).to_have_count(3)
    expect(page.locator("#cp-rows .cp-n")).to_have_text(["1", "2", "3"])
    expect(filled).to_have_count(4)
    rows.nth(2).get_by_label("纬度").fill("36.6555")  # 幼儿园 moved south by hand
    rows.nth(2).get_by_label("半径(米)").fill("25")
    rows.nth(2).get_by_label("纬度").press("Tab")

    page.get_by_role("button", name="添加一行").click()  # a row with a name but no place is refused, nothing saved
    expect(rows).to_have_count(4)
    expect(rows.nth(3).get_by_label("点位名称")).to_be_focused()
    rows.nth(3).get_by_label("点位名称").fill("无坐标")
    page.get_by_role("button", name="保存路线").click()
    expect(page.get_by_role("alert")).to_contain_text("第4个点位缺少经纬度")
    assert not PatrolRoute.objects.filter(name="甲一网格夜间巡查").exists()
    expect(page.locator("#rt-name")).to_have_value("甲一网格夜间巡查")
    rows.nth(3).get_by_role("button", name="删除").click()
    expect(page.get_by_label("点位名称")).to_have_count(5)  # three located rows + the two blank rows of the page
    page.get_by_role("button", name="保存路线").click()
    expect(page.locator(".messages")).to_contain_text("路线已保存")

    route = PatrolRoute.objects.get(name="甲一网格夜间巡查")
    assert route.region_id == t.grid_a.pk and route.tolerance_m == 40
    points = list(route.checkpoints.filter(is_active=True).order_by("seq"))
    assert [(p.seq, p.name, p.tolerance_m) for p in points] == [(1, "西门岗亭", 40), (2, "北侧车棚", 40), (3, "幼儿园", 25)]
    for p, (lat, lng) in zip(points, [targets[0], targets[2], (36.6555, targets[3][1])], strict=True):
        assert abs(p.lat - lat) < 0.0004 and abs(p.lng - lng) < 0.0004
    assert points[2].lat == 36.6555

    page.reload()
    expect(page.locator("h1")).to_have_text("编辑巡查路线")
    _boundary_box(page, "#route-map", paths=4)
    expect(page.get_by_label("点位名称")).to_have_count(5)
    for i, p in enumerate(points):
        expect(rows.nth(i).get_by_label("点位名称")).to_have_value(p.name)
        expect(rows.nth(i).get_by_label("纬度")).to_have_value(str(p.lat))
    assert_accessible(page)

    rows.nth(0).get_by_role("button", name="删除").click()  # the first stop goes; the others keep their ids
    page.get_by_role("button", name="保存路线").click()
    expect(page.locator(".messages")).to_contain_text("路线已保存")
    kept = list(route.checkpoints.filter(is_active=True).order_by("seq"))
    assert [(c.pk, c.seq, c.name) for c in kept] == [(points[1].pk, 1, "北侧车棚"), (points[2].pk, 2, "幼儿园")]
    assert not Checkpoint.objects.filter(pk=points[0].pk).exists()  # never checked in at: deleted, not retired
    expect(page.locator("#cp-rows .cp-n")).to_have_text(["1", "2", "3", "4"])
    page.get_by_role("link", name="巡查路线").first.click()
    expect(page.get_by_role("row", name=re.compile("甲一网格夜间巡查")).locator("td").nth(2)).to_have_text("2")

    ctx.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": base}])  # the English console names clicked points in English
    page.goto(f"{base}/console/patrols/routes/new/")
    _click_map(page, _boundary_box(page, "#route-map"), *targets[0])
    expect(rows.nth(0).get_by_label("Point name")).to_have_value("Point 1")
    ctx.close()


@pytest.fixture
def patrolled(e2e_tree):
    """Today: 张伟 walked two of the three points of grid A (and strayed once), 李娜 all of grid B; 赵强
    walked in a community of another street (丙社区). Yesterday 张伟 missed grid A."""
    from tests import factories as f

    ensure_roles()
    t = e2e_tree
    street2 = f.region("street", t.district, name="泉城路街道", boundary=f.square(117.02, 36.65, 0.02))
    community_c = f.region("community", street2, name="丙社区", boundary=f.square(117.02, 36.65, 0.01))
    grid_c = f.region("grid", community_c, name="丙一网格", boundary=f.square(117.02, 36.65, 0.01))
    now = timezone.localtime()
    out = {"viewer": f.account("e2e_street_viewer", perms=["patrol.view"], scope=t.street)}
    plans = [("a", t.community_a, t.grid_a, "张伟", "甲一网格日常巡查", POINTS_A, 2),
             ("b", t.community_b, t.grid_b, "李娜", "乙一网格日常巡查", [("西门", 36.652, 117.012), ("乙区广场", 36.655, 117.015)], 2),
             ("c", community_c, grid_c, "赵强", "丙一网格日常巡查", [("丙区南门", 36.652, 117.022), ("丙区北门", 36.658, 117.022)], 1)]
    for key, community, grid, name, route_name, points, walked in plans:
        manager = seeded(f"e2e_manager_{key}", "community_worker", community)
        worker = seeded(f"e2e_gw_{key}", "grid_worker", grid)
        worker.display_name = name
        worker.save(update_fields=["display_name"])
        route = svc.route_create(actor=manager, region=grid, name=route_name, checkpoints=[svc.CheckpointIn(n, lat, lng) for n, lat, lng in points])
        task = PatrolTask.objects.create(route=route, region=grid, worker=worker, date=now.date(), window_start=now - dt.timedelta(hours=1),
                                         window_end=now + dt.timedelta(hours=3), checkpoint_total=len(points), assigned_by=manager)
        task = svc.task_start(actor=worker, task=task)
        for cp in route.checkpoints.order_by("seq")[:walked]:
            svc.task_check_in(actor=worker, task=task, lat=cp.lat + 0.0001, lng=cp.lng, checkpoint=cp)
        out[key] = {"worker": worker, "route": route, "task": task}
    a = out["a"]
    svc.task_check_in(actor=a["worker"], task=a["task"], lat=36.659, lng=117.0005)  # strayed: a free point far from the path
    day = now.date() - dt.timedelta(days=1)
    PatrolTask.objects.create(route=a["route"], region=t.grid_a, worker=a["worker"], date=day, checkpoint_total=3,
                              window_start=now - dt.timedelta(days=1, hours=2), window_end=now - dt.timedelta(days=1, hours=1))
    assert svc.sweep_missed() == 1  # yesterday's task was never started
    return out


def _coverage_row(page, route_name: str):
    return page.locator("#cov-h + table tbody tr").filter(has_text=route_name)


def test_C6_who_patrolled_where_shows_each_workers_check_ins_and_coverage_by_day_within_scope(browser, live_server, patrolled):
    base = live_server.url
    today = timezone.localdate()
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    console_login(page, base, "e2e_street_viewer")
    page.goto(f"{base}/console/patrols/")
    page.get_by_role("link", name="巡查轨迹与覆盖").click()
    expect(page.locator("h1")).to_have_text("谁在哪里巡查过")
    expect(page.locator("#map-h")).to_have_text(f"{today:%Y-%m-%d} 巡查轨迹")
    expect(page.locator("#patrol-map")).to_have_attribute("data-tracks", "2", timeout=20_000)
    expect(page.locator("#track-legend li")).to_have_text(["张伟（3）", "李娜（2）"])
    expect(page.locator("#patrol-map-status")).to_have_text("打卡次数： 5")
    rows = page.locator("#cov-h + table tbody tr")
    expect(rows).to_have_count(2)
    a, b = _coverage_row(page, "甲一网格日常巡查"), _coverage_row(page, "乙一网格日常巡查")
    expect(a.locator("td")).to_have_text(["甲一网格日常巡查", "甲一网格", "张伟", re.compile(r"^1（"), "2/3", "67%"])
    expect(b.locator("td")).to_have_text(["乙一网格日常巡查", "乙一网格", "李娜", re.compile(r"^1（"), "2/2", "100%"])
    expect(page.get_by_text("丙一网格日常巡查")).to_have_count(0)  # another street: not this viewer's
    expect(page.get_by_text("赵强")).to_have_count(0)
    workers = page.get_by_label("网格员", exact=True)
    expect(workers.locator("option")).to_have_text(["全部", "张伟", "李娜"])
    assert_accessible(page)

    workers.select_option(label="张伟")
    page.get_by_role("button", name="显示").click()
    expect(page).to_have_url(re.compile(rf"worker={patrolled['a']['worker'].pk}"))
    expect(page.locator("#patrol-map")).to_have_attribute("data-tracks", "1", timeout=20_000)
    expect(page.locator("#track-legend li")).to_have_text(["张伟（3）"])
    expect(rows).to_have_count(1)
    expect(a.locator("td").nth(4)).to_have_text("2/3")
    page.locator('#patrol-map path[fill="#dc2626"]').click()  # the one red dot: 张伟 strayed; it opens his task
    expect(page).to_have_url(re.compile(rf"/console/patrols/tasks/{patrolled['a']['task'].pk}/$"))
    expect(page.locator("h1")).to_contain_text("甲一网格日常巡查")
    page.go_back()

    page.get_by_role("link", name="前一天").click()
    expect(page.locator("#map-h")).to_have_text(f"{today - dt.timedelta(days=1):%Y-%m-%d} 巡查轨迹")
    expect(page.locator("#patrol-map")).to_have_attribute("data-tracks", "0", timeout=20_000)
    expect(page.locator("#patrol-map-status")).to_have_text("当天没有打卡记录")
    expect(rows).to_have_count(1)
    expect(a.locator("td")).to_have_text(["甲一网格日常巡查", "甲一网格", "张伟", re.compile("漏巡 1"), "0/3", "0%"])
    page.get_by_role("link", name="后一天").click()
    expect(page.locator("#map-h")).to_have_text(f"{today:%Y-%m-%d} 巡查轨迹")
    expect(page.get_by_role("link", name="后一天")).to_have_count(0)  # no future days
    expect(page.locator("#track-legend li")).to_have_text(["张伟（3）"], timeout=20_000)

    page.goto(f"{base}/console/patrols/map/?worker={patrolled['c']['worker'].pk}")  # a worker out of scope, asked for by id
    expect(page.locator("#patrol-map")).to_have_attribute("data-tracks", "0", timeout=20_000)
    expect(page.get_by_text("当天没有巡查任务")).to_be_visible()
    expect(page.get_by_text("赵强")).to_have_count(0)
    ctx.close()

    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})  # a community-A manager sees A only
    page = ctx.new_page()
    console_login(page, base, "e2e_manager_a")
    page.goto(f"{base}/console/patrols/map/")
    expect(page.locator("#patrol-map")).to_have_attribute("data-tracks", "1", timeout=20_000)
    expect(page.locator("#track-legend li")).to_have_text(["张伟（3）"])
    expect(page.locator("#cov-h + table tbody tr")).to_have_count(1)
    expect(page.get_by_text("李娜")).to_have_count(0)
    ctx.close()
