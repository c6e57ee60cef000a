"""Case loop in the browser: resident reports → grid/community worker dispatches → department
resolves → worker verifies and closes → resident rates (C1 C3 C4 U1), with axe on every page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from linli.cases.models import Case, CaseRating
from linli.cases.perms import CasePerm as P
from linli.orgs.models import AccountKind, OrgType
from tests import factories as f
from tests.e2e.conftest import assert_accessible, console_login

pytestmark = pytest.mark.e2e


@pytest.fixture
def people(e2e_tree):
    from linli.places import spatial
    from tests.cases.world import COMMUNITY, ensure_seed

    ensure_seed()
    spatial.invalidate()
    t = e2e_tree
    dept = f.organisation(t.district, OrgType.DEPARTMENT, "区城市管理局")
    return {
        "resident": f.account("e2e_resident", kind=AccountKind.RESIDENT, person=t.person),
        "worker": f.account("e2e_worker", perms=COMMUNITY, scope=t.community_a),
        "handler": f.account("e2e_handler", perms=[P.VIEW, P.HANDLE], scope=t.district, organisation=dept),
        "dept": dept, "tree": t,
    }


def _portal_login(page, base: str, username: str) -> None:
    page.goto(f"{base}/portal/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(rf"^{re.escape(base)}/portal/(?!login)"))


def _act(page, label: str, *, note: str | None = None, select: str | None = None) -> None:
    box = page.locator("details.action").filter(has=page.get_by_text(label, exact=True))
    box.locator("summary").click()
    if select is not None:
        box.get_by_label("责任单位").select_option(label=select)
    if note is not None:
        box.locator("textarea[name=note]").fill(note)
    box.get_by_role("button", name=label).click()
    expect(page.locator(".messages")).to_contain_text(f"已{label}")


def test_C1_C3_C4_resident_reports_worker_dispatches_department_resolves_resident_rates(browser, live_server, people):
    base = live_server.url
    resident = browser.new_context(locale="zh-CN").new_page()
    _portal_login(resident, base, "e2e_resident")
    resident.goto(f"{base}/portal/cases/new/")
    assert_accessible(resident)
    resident.get_by_label("问题类型").select_option(label="道路破损")
    resident.get_by_label("一句话说明问题").fill("单元门口地砖破损")
    resident.get_by_label("详细描述").fill("101 单元门口地砖翘起，老人容易绊倒")
    expect(resident.get_by_role("radio", name=re.compile("我家"))).to_be_checked()
    resident.get_by_role("button", name="提交").click()
    expect(resident.locator("h1")).to_contain_text("单元门口地砖破损")
    expect(resident.locator("main")).to_contain_text("已提交，工单号")
    case = Case.objects.get()
    assert case.channel == "portal" and case.region_id == people["tree"].grid_a.pk
    assert_accessible(resident)

    worker = browser.new_context(locale="zh-CN").new_page()
    console_login(worker, base, "e2e_worker")
    worker.goto(f"{base}/console/cases/")
    expect(worker.locator("#cases-map")).to_have_attribute("data-features", re.compile(r"^[1-9]"))
    assert_accessible(worker)
    worker.get_by_role("link", name=case.number).click()
    expect(worker.locator("h1")).to_contain_text("单元门口地砖破损")
    assert_accessible(worker)
    _act(worker, "受理", note="已电话联系居民")
    _act(worker, "派单", select="区城市管理局（政府部门）", note="请三日内修复")

    handler = browser.new_context(locale="zh-CN").new_page()
    console_login(handler, base, "e2e_handler")
    handler.goto(f"{base}/console/cases/?box=org")
    handler.get_by_role("link", name=case.number).click()
    _act(handler, "开始处置")
    _act(handler, "办结", note="已更换破损地砖")
    assert_accessible(handler)

    worker.reload()
    _act(worker, "核查通过", note="现场核实已修复")
    _act(worker, "结案")

    resident.goto(f"{base}/portal/cases/")
    resident.get_by_role("link", name="单元门口地砖破损").click()
    expect(resident.locator("main")).to_contain_text("已更换破损地砖")
    expect(resident.locator("main")).not_to_contain_text("请三日内修复")
    resident.get_by_label("5 分").check()
    resident.get_by_label("评价内容（可选）").fill("修得很快，谢谢")
    resident.get_by_role("button", name="提交评价").click()
    expect(resident.locator("main")).to_contain_text("感谢您的评价")
    assert_accessible(resident)
    rating = CaseRating.objects.get(case=case)
    assert rating.score == 5 and not rating.on_behalf
    case.refresh_from_db()
    assert case.status == "closed" and case.assigned_org_id == people["dept"].pk
