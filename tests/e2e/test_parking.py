"""Resident journey in a phone-sized browser (K2): my car is inside with a fee due → pay in the portal →
"you can drive out" → the exit camera's decision lets the car out without stopping."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from linli.orgs.models import AccountKind
from linli.parking import decision
from linli.parking import services as svc
from linli.parking.models import ParkingEvent
from linli.parking.perms import ParkingPerm as P
from tests import factories as f
from tests.e2e.test_portal import axe, browser_context_args  # noqa: F401 — the phone-sized context and the axe check

pytestmark = pytest.mark.e2e


@pytest.fixture
def parked(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LINLI_PARKING_CHECK_MS = 0
    decision.invalidate()
    tree = f.Tree()
    est = f.estate(tree.community_a)
    manager = f.account("pk_e2e_mgr", perms=list(P), scope=tree.community_a)
    rule = svc.rule_create(actor=manager, region=tree.community_a, name="标准", free_minutes=15, first_minutes=60, first_fen=500,
                           step_minutes=60, step_fen=200)
    lot, _token = svc.lot_create(actor=manager, code="P-E2E", name="阳光小区地库", capacity=50, estate=est, rule=rule)
    me = f.person(tree.grid_a, name="陈先生")
    acc = f.account("chen_xs", kind=AccountKind.RESIDENT, person=me)
    svc.vehicle_register(actor=acc, owner=me, plate="鲁A12345")
    d = svc.plate_entry(lot=lot, plate="鲁A12345", at=timezone.now() - dt.timedelta(minutes=100))  # 5 + 2 yuan
    assert svc.plate_exit(lot=lot, plate="鲁A12345").reason == "payment_due"
    yield {"lot": lot, "session_id": d.session_id}
    decision.invalidate()


def test_K2_resident_pays_in_portal_and_the_exit_is_allowed(page, live_server, parked):
    base = live_server.url
    page.goto(base + "/portal/parking/")
    page.get_by_label("用户名").fill("chen_xs")
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我的车")
    expect(page.locator("main")).to_contain_text("鲁A12345 · 阳光小区地库")
    axe(page)
    page.get_by_role("link", name="缴费 7.00 元，缴后直接驶离").click()
    expect(page.locator("#due")).to_have_text("7.00")
    page.get_by_label("支付宝").check()
    axe(page)
    page.get_by_role("button", name="支付 7.00 元").click()
    expect(page.get_by_text("您可以驾车离场了")).to_be_visible()
    axe(page)
    out = svc.plate_exit(lot=parked["lot"], plate="鲁A12345")
    assert out.allowed and out.reason == "paid"
    assert ParkingEvent.objects.filter(session_id=parked["session_id"], direction="exit", allowed=True).exists()
    page.goto(base + "/portal/parking/")
    expect(page.locator("main")).to_contain_text("您的车辆目前都不在停车场内")
