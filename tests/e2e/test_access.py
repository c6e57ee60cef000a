"""Portal journey (A1 A4) on a phone-sized browser: a resident opens 门禁与访客, sees their QR pass
(inline SVG, no CDN), invites a visitor and gets the pass link to share, which opens without login."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from linli.access import decision
from linli.orgs.models import AccountKind
from tests import factories as f

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 390, "height": 844}, "is_mobile": True}


@pytest.fixture
def resident(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    decision.invalidate()
    tree = f.Tree()
    house = f.house(tree.grid_a, number="808")
    me = f.person(tree.grid_a, name="高大爷", id_number=f.make_id_number(seq=808), phone="+8613700008080")
    f.residency(me, house, "owner")
    f.account("gao_dy", kind=AccountKind.RESIDENT, person=me)
    yield {"house": house, "me": me}
    decision.invalidate()


def test_A1_A4_resident_sees_qr_and_invites_a_visitor(page, live_server, resident):
    from tests.e2e.conftest import assert_accessible

    cdn = []
    page.on("request", lambda r: cdn.append(r.url) if not r.url.startswith(live_server.url) else None)
    base = live_server.url
    page.goto(base + "/portal/login/")
    page.get_by_label("用户名").fill("gao_dy")
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="门禁与访客").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("门禁与访客")
    assert_accessible(page)
    page.get_by_role("link", name="我的通行码").click()
    qr = page.get_by_role("img", name="我的通行二维码")
    expect(qr).to_be_visible()
    expect(page.locator("main")).to_contain_text("到期前自动更新")
    assert_accessible(page)
    page.goto(base + "/portal/access/")
    page.get_by_role("link", name="邀请访客").click()
    page.get_by_label("访客姓名").fill("高小妹")
    page.get_by_label("访客手机（可空）").fill("13900001111")
    page.get_by_label("车牌（可空，如 京A12345）").fill("鲁A12345")
    page.get_by_role("button", name="生成通行码").click()
    expect(page.locator("main")).to_contain_text("邀请已生成")
    expect(page.get_by_role("img", name="访客通行二维码")).to_be_visible()
    link = page.get_by_label("通行码链接（发给访客）").input_value()
    assert "/portal/access/pass/" in link
    assert "高*爷" in page.get_by_label("短信/微信文字").input_value()
    assert_accessible(page)
    visitor = page.context.browser.new_context(locale="zh-CN").new_page()
    visitor.goto(link)
    expect(visitor.get_by_role("img", name="访客通行二维码")).to_be_visible()
    visitor.close()
    assert not cdn, cdn
