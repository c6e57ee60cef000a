"""Console journeys in a real browser (Debian chromium): login → places tree → boundary map → person search."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from linli.orgs.perms import Perm
from tests import factories as f

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def seeded(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tree = f.Tree()
    house = f.house(tree.grid_a, number="101")
    id_number = f.make_id_number(seq=321)
    person = f.person(tree.grid_a, name="王秀英", id_number=id_number, phone="+8613911112222")
    f.residency(person, house)
    f.account("e2e_street", perms=[Perm.PLACE_VIEW, Perm.PERSON_VIEW], scope=tree.street)
    return {"tree": tree, "id_number": id_number}


def axe(page) -> None:
    """WCAG 2.1 AA check with axe-core when the e2e conftest provides it."""
    try:
        from tests.e2e.conftest import assert_accessible
    except ImportError:
        return
    assert_accessible(page)


def login(page, base: str, username: str = "e2e_street") -> None:
    page.goto(base + "/console/login/")
    axe(page)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(base + "/console/")


def test_P1_H1_console_login_tree_map_and_person_search(page, live_server, seeded):
    base = live_server.url
    login(page, base)
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
    axe(page)

    # places tree: expand street → community (htmx, lazily) down to a grid
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="区域与网格").click()
    tree = page.locator("#region-tree")
    expect(tree.get_by_role("link", name="解放路街道")).to_be_visible()
    tree.get_by_role("button", name="展开 解放路街道").click()
    expect(tree.get_by_role("link", name="甲社区")).to_be_visible()
    tree.get_by_role("button", name="展开 甲社区").click()
    expect(tree.get_by_role("link", name="甲一网格")).to_be_visible()
    expect(tree.get_by_role("button", name="展开 解放路街道")).to_have_attribute("aria-expanded", "true")
    axe(page)

    # region page: the map draws the children's polygons from our own GeoJSON, no tiles
    tree.get_by_role("link", name="解放路街道").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("解放路街道")
    polygons = page.locator("#region-map path.leaflet-interactive")
    expect(polygons).to_have_count(2)
    assert page.locator("#region-map .leaflet-tile").count() == 0
    expect(page.locator("#region-map")).to_have_attribute("data-features", "2")
    axe(page)
    page.locator("#region-map .map-label", has_text="甲社区").wait_for()
    # click a polygon → drill down to that community
    box = polygons.first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
    expect(page).to_have_url(re.compile(r"/console/places/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("甲社区|乙社区"))

    # person search: name, then exact ID number; the ID is masked
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="人员查询").click()
    box = page.get_by_label("姓名 / 证件号 / 手机号 / 后四位")
    box.fill("王秀英")
    box.press("Enter")
    results = page.locator("#person-results")
    expect(results.get_by_role("link", name="王秀英")).to_be_visible()
    masked = seeded["id_number"][:4] + "**********" + seeded["id_number"][-4:]
    expect(results).to_contain_text(masked)
    assert seeded["id_number"] not in page.content()
    box.fill(seeded["id_number"])
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"q=" + seeded["id_number"]))
    expect(results.get_by_role("link", name="王秀英")).to_be_visible()
    axe(page)
    results.get_by_role("link", name="王秀英").click()
    expect(page.locator("#id-masked")).to_have_text(masked)
    axe(page)


def test_U1_elder_mode_and_phone_width(page, live_server, seeded):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url)
    page.get_by_role("button", name="长辈模式（大字高对比）").click()
    expect(page.locator("html")).to_have_class("elder")
    size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert size >= 20
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    axe(page)
    page.get_by_role("button", name="关闭长辈模式").click()
    expect(page.locator("html")).not_to_have_class("elder")
