"""Portal journey in a phone-sized browser: resident login → my home and household (H2 U1)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from linli.orgs.models import AccountKind
from tests import factories as f

pytestmark = pytest.mark.e2e


def axe(page) -> None:
    try:
        from tests.e2e.conftest import assert_accessible
    except ImportError:
        return
    assert_accessible(page)


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 390, "height": 844}, "is_mobile": True}


@pytest.fixture
def resident(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tree = f.Tree()
    house = f.house(tree.grid_a, number="502")
    me = f.person(tree.grid_a, name="刘阿姨", id_number=f.make_id_number(seq=502, female=True), phone="+8613700005555")
    child = f.person(tree.grid_a, name="刘小宝", id_number=f.make_id_number(seq=503))
    f.residency(me, house, "owner")
    f.residency(child, house, "family_member")
    f.account("liu_ayi", kind=AccountKind.RESIDENT, person=me)
    return {"house": house, "me": me}


def test_H2_U1_portal_login_my_home_and_elder_mode(page, live_server, resident):
    base = live_server.url
    page.goto(base + "/portal/")
    expect(page).to_have_url(base + "/portal/login/?next=/portal/")
    axe(page)
    page.get_by_label("用户名").fill("liu_ayi")
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("刘阿姨，您好")
    axe(page)
    page.get_by_role("link", name="我的房屋与家庭").click()
    expect(page.get_by_role("heading", name=resident["house"].address)).to_be_visible()
    members = page.locator("ul.members li")
    expect(members).to_have_count(2)
    expect(members.nth(1)).to_contain_text("刘小宝")
    expect(page.locator("main")).not_to_contain_text(resident["me"].id_number)
    expect(page.locator("main")).to_contain_text("137****5555")
    axe(page)
    page.get_by_role("button", name="长辈模式（大字）").click()
    expect(page.locator("html")).to_have_class("elder")
    page.get_by_role("link", name="邻里 · 居民服务").click()
    page.get_by_role("link", name="我的授权").click()
    face = page.locator("section", has=page.get_by_role("heading", name="人脸信息(单独同意)"))
    face.get_by_role("button", name="同意").click()
    expect(page.locator("#state-biometric_face")).to_have_text("已同意")
    axe(page)
