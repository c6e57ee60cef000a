"""Hotline agent in the browser (L1): types the caller's number, sees the resident (masked) with her
home, searches the knowledge base live and answers with an article, opens a case in one form and
ends the call, then records a callback (回拨) on the call page — axe on the agent screen and the call page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from linli.cases.models import Case, Channel
from linli.hotline.models import Call, CallArticle
from tests import factories as f
from tests.e2e.conftest import assert_accessible, console_login

pytestmark = pytest.mark.e2e


@pytest.fixture
def agent(e2e_tree):
    from linli.knowledge.models import Article, ArticleVersion, Category
    from linli.knowledge.starter import load_starter
    from linli.places import spatial
    from tests.cases.world import ensure_seed

    ensure_seed()
    load_starter(Category, Article, ArticleVersion)
    spatial.invalidate()
    return f.account("e2e_agent", perms=["case.view", "case.intake", "person.view", "place.view"], scope=e2e_tree.street)


def test_L1_agent_types_number_sees_resident_answers_and_opens_case(page, live_server, agent, e2e_tree):
    base = live_server.url
    console_login(page, base, agent.username)
    page.goto(f"{base}/console/hotline/")
    page.get_by_label("来电号码").fill("139 1111 2222")
    page.get_by_role("button", name="接听并查询来电人").click()
    page.wait_for_url(re.compile(r"/console/hotline/calls/\d+/$"))

    match = page.locator("#caller-match")
    expect(match).to_contain_text("王*英")
    expect(match).to_contain_text("139****2222")
    expect(match).to_contain_text(e2e_tree.house.address)
    expect(match).not_to_contain_text("王秀英")
    assert_accessible(page)

    page.get_by_label("来电人的问题").fill("老人补贴怎么领")
    first = page.locator("#kb-results li").first
    expect(first.get_by_role("button", name="用此答复")).to_be_visible()
    title = first.locator("a").first.inner_text()
    first.get_by_role("button", name="用此答复").click()
    expect(page.locator("#used-articles")).to_contain_text(title)

    form = page.locator("#case-form")
    form.get_by_label("事件分类").select_option(label="路灯故障")
    form.get_by_label("标题").fill("楼下路灯不亮")
    form.get_by_label("问题描述").fill("来电人反映单元门口路灯连续三晚不亮")
    form.get_by_label("来电人房屋").select_option(str(e2e_tree.house.pk))
    form.get_by_role("button", name="提交工单").click()
    expect(page.locator("#case-opened")).to_be_visible()

    case = Case.objects.get(channel=Channel.HOTLINE)
    assert case.reporter_person_id == e2e_tree.person.pk and case.house_id == e2e_tree.house.pk
    expect(page.locator("#case-opened")).to_contain_text(case.number)

    page.locator("#end-form").get_by_label("处理结果").select_option("case_opened")
    page.locator("#end-form").get_by_label("通话记录").fill("已告知工单号")
    page.locator("#end-form").get_by_role("button", name="结束来电").click()
    expect(page.locator("#call-outcome")).to_contain_text("已立案转办")
    call = Call.objects.get()
    assert call.case_id == case.pk and call.outcome == "case_opened" and CallArticle.objects.filter(call=call).count() == 1

    callback = page.locator("#callback-form")
    callback.get_by_label("回拨结果").select_option("no_answer")
    callback.get_by_label("回拨记录").fill("回拨告知进度，无人接听")
    callback.get_by_role("button", name="记录回拨").click()
    expect(page.locator("#callback-list")).to_contain_text("未接通")
    expect(page.locator("#callbacks")).not_to_contain_text("13911112222")
    assert_accessible(page)
    back = Call.objects.get(callback_of=call)
    assert back.direction == "outbound" and back.case_id == case.pk and back.agent_id == agent.pk
