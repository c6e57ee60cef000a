"""IoT console in a real browser: log in, open the alarm console, acknowledge an alarm (D4), see the
device page with its telemetry chart and the map (D1 D6); axe on each page (U1)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from linli.iot.models import Alarm
from linli.iot.perms import IotPerm
from tests.e2e.conftest import assert_accessible, console_login

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def iot_world(e2e_tree):
    from tests import factories as f
    from tests.iot.helpers import device, send

    dev, _ = device(e2e_tree.grid_a, "gas_detector", serial="E2E-GAS-1", name="甲一燃气", lat=36.651, lng=117.001)
    send(dev, {"gas_lel": 5})
    send(dev, {"gas_lel": 30})
    alarm = Alarm.objects.get(device=dev)
    worker = f.account("e2e_iot", perms=[IotPerm.DEVICE_VIEW, IotPerm.ALARM_VIEW, IotPerm.ALARM_ACK, "place.view"], scope=e2e_tree.community_a)
    return dev, alarm, worker


def test_D4_log_in_open_alarms_and_acknowledge_one(page, live_server, iot_world):
    dev, alarm, worker = iot_world
    base = live_server.url
    console_login(page, base, worker.username)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="设备告警").click()
    expect(page.get_by_role("heading", name="设备列表")).to_be_visible()
    expect(page.get_by_role("link", name="甲一燃气")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="告警中心").click()
    expect(page).to_have_url(re.compile(r"/console/iot/alarms/$"))
    row = page.locator(f"#alarm-{alarm.pk}")
    expect(row).to_contain_text("燃气泄漏")
    expect(row).to_contain_text("未确认")
    assert_accessible(page)
    row.get_by_role("button", name=re.compile("^确认告警")).click()
    expect(page.locator(f"#alarm-{alarm.pk}")).to_have_attribute("data-status", "acknowledged")
    expect(page.locator(f"#alarm-{alarm.pk}").get_by_role("status")).to_have_text("已确认")
    alarm.refresh_from_db()
    assert alarm.status == "acknowledged" and alarm.acknowledged_by_id == worker.pk
    # the 5-second feed re-renders the row from the server with the new state
    expect(page.locator(f"#alarm-{alarm.pk} td").nth(5)).to_have_text("已确认", timeout=8000)

    page.locator(f"#alarm-{alarm.pk}").get_by_role("link", name="甲一燃气").click()
    expect(page.get_by_role("heading", name=re.compile("甲一燃气"))).to_be_visible()
    expect(page.locator("[data-tchart] svg").first).to_be_visible()
    assert_accessible(page)

    page.goto(base + "/console/iot/devices/map/")
    expect(page.locator("#iot-map")).to_have_attribute("data-devices", "1")
    expect(page.locator("#iot-map-list")).to_contain_text("甲一燃气")
    assert_accessible(page)
