"""Console journeys in a real browser (Debian chromium): login → places tree → boundary map → person search."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from linli.core.pii import mask_id_number
from tests.e2e.conftest import STAFF_USERNAME, assert_accessible

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser_context_args(browser_context_args):
    """Chinese browser (the console's default language), desktop size."""
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1280, "height": 900}}


def test_P1_H1_console_login_tree_map_and_person_search(page, live_server, staff_account, e2e_tree):
    base = live_server.url
    page.goto(base + "/console/")
    expect(page).to_have_url(re.compile(r"/console/login/\?next=/console/$"))
    assert_accessible(page)
    page.get_by_label("用户名").fill(STAFF_USERNAME)
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    from tests import factories as f

    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(base + "/console/")
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
    assert_accessible(page)

    # places tree: expand street → community (htmx, lazily) down to a grid
    nav = page.get_by_role("navigation", name="主导航")
    nav.get_by_role("link", name="区域与网格").click()
    tree = page.locator("#region-tree")
    expect(tree.get_by_role("link", name="解放路街道")).to_be_visible()
    tree.get_by_role("button", name="展开 解放路街道").click()
    expect(tree.get_by_role("link", name="甲社区")).to_be_visible()
    expect(tree.get_by_role("button", name="展开 解放路街道")).to_have_attribute("aria-expanded", "true")
    tree.get_by_role("button", name="展开 甲社区").click()
    expect(tree.get_by_role("link", name="甲一网格")).to_be_visible()
    assert_accessible(page)

    # region page: the map draws the children's polygons from our own GeoJSON, no tiles
    tree.get_by_role("link", name="解放路街道").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("解放路街道")
    polygons = page.locator("#region-map path.leaflet-interactive")
    expect(polygons).to_have_count(2)
    expect(page.locator("#region-map")).to_have_attribute("data-features", "2")
    expect(page.locator("#region-map .map-label", has_text="甲社区")).to_be_visible()
    assert page.locator("#region-map .leaflet-tile").count() == 0
    assert_accessible(page)
    # click inside the first polygon → drill down to that community
    box = polygons.first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
    expect(page).to_have_url(re.compile(r"/console/places/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("甲社区|乙社区"))

    # person search: by name, then by the exact ID number; the ID is always masked
    nav = page.get_by_role("navigation", name="主导航")
    nav.get_by_role("link", name="人员查询").click()
    box = page.get_by_label("姓名 / 证件号 / 手机号 / 后四位")
    box.fill("王秀英")
    box.press("Enter")
    results = page.locator("#person-results")
    expect(results.get_by_role("link", name="王秀英")).to_be_visible()
    full = e2e_tree.person.id_number
    expect(results).to_contain_text(mask_id_number(full))
    box.fill(full)
    box.press("Enter")
    expect(page).to_have_url(re.compile("q=" + full))
    expect(results.get_by_role("link", name="王秀英")).to_be_visible()
    assert full not in page.locator("#results").inner_text()
    assert_accessible(page)
    results.get_by_role("link", name="王秀英").click()
    expect(page.locator("#id-masked")).to_have_text(mask_id_number(full))
    assert_accessible(page)


def test_U1_elder_mode_at_phone_width(staff_page, live_server):
    page = staff_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/console/people/")
    page.get_by_role("button", name="长辈模式（大字高对比）").click()
    expect(page.locator("html")).to_have_class("elder")
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") >= 20
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(page)
    page.get_by_role("button", name="关闭长辈模式").click()
    expect(page.locator("html")).not_to_have_class("elder")


def test_O2_my_settings_token_created_once_and_region_coverage(staff_page, live_server, e2e_tree):
    page = staff_page
    page.get_by_role("link", name="e2e_staff").click()
    expect(page.get_by_role("heading", name="个人设置")).to_be_visible()
    page.get_by_label("令牌名称（用途）").fill("巡查App")
    page.get_by_role("button", name="创建令牌").click()
    expect(page.locator("#raw-token")).to_have_text(re.compile(r"^lk_"))
    expect(page.locator("#tokens table")).to_contain_text("巡查App")
    assert_accessible(page)
    page.goto(f"{live_server.url}/console/places/{e2e_tree.community_a.pk}/")
    expect(page.get_by_role("table", name="设施服务能力覆盖")).to_be_visible(timeout=20000)  # htmx-loaded; slow on a busy CI machine
    assert_accessible(page)


def test_U1_every_console_page_passes_axe(staff_page, live_server, e2e_tree):
    page = staff_page
    base = live_server.url
    house = e2e_tree.house
    for path in [
        "/console/",
        f"/console/places/{e2e_tree.grid_a.pk}/",
        "/console/places/locate/?lat=36.655&lng=117.005",
        "/console/estates/",
        f"/console/estates/{house.building.estate_id}/",
        f"/console/buildings/{house.building_id}/",
        f"/console/houses/{house.pk}/",
        f"/console/people/{e2e_tree.person.pk}/",
        "/console/groups/",
        "/console/groups/elderly_alone/",
        "/console/me/",
    ]:
        page.goto(base + path)
        expect(page.locator("main h1")).to_be_visible()
        assert_accessible(page)
