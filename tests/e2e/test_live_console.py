"""Live console regions in a real browser (K4, A4 with static/linli/live.js, the helper every live page
uses): a parking event for this lot on the console's server-sent-event stream refreshes the lot's
free-space figures at once — long before their 10-second polling would — while an event for another
lot does not; a watch-list hit brings the new alarm into the guard's list (a region re-fetched from its
own page). The stream itself is served by the browser's network layer here (page.route), so the tests
need neither Redis nor a second server thread."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from linli.access import decision as access_decision
from linli.access import services as access_svc
from linli.access.perms import AccessPerm
from linli.core import live
from linli.parking import decision
from linli.parking import services as svc
from linli.parking.perms import ParkingPerm as P
from tests import factories as f
from tests.conftest import LIVE_REDIS_URL
from tests.e2e.conftest import console_login

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def live_on(transactional_db, settings, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LINLI_LIVE_REDIS_URL = LIVE_REDIS_URL  # pages render their live regions …
    monkeypatch.setattr(live, "_send", lambda channel, payload: None)  # … and nothing reaches Redis
    return f.Tree()


class Stream:
    """The console's event stream as the browser sees it: each (re)connect gets the events queued so far."""

    def __init__(self, page, path: str) -> None:
        self.frames: list[str] = []
        page.route(f"**{path}", self.serve)

    def serve(self, route) -> None:
        body = "retry: 300\n\n" + "".join(self.frames)
        self.frames.clear()
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}, body=body)

    def send(self, channel: str, event: dict) -> None:
        self.frames.append(f"event: {channel}\ndata: {json.dumps(event)}\n\n")


@pytest.fixture
def live_lot(live_on, settings):
    tree = live_on
    settings.LINLI_PARKING_CHECK_MS = 0
    decision.invalidate()
    manager = f.account("pk_live_mgr", perms=list(P), scope=tree.community_a)
    lot, _token = svc.lot_create(actor=manager, code="P-LIVE", name="实时地库", capacity=10, estate=f.estate(tree.community_a))
    yield lot, manager
    decision.invalidate()


def test_K4_lot_figures_refresh_on_a_live_event_for_their_lot_only(page, live_server, live_lot):
    lot, manager = live_lot
    requests: list[str] = []
    stream = Stream(page, "/console/parking/stream/")
    page.on("request", lambda r: requests.append(r.url) if "/figures/" in r.url else None)
    console_login(page, live_server.url, manager.username)
    page.goto(f"{live_server.url}/console/parking/lots/{lot.pk}/")
    loaded = time.monotonic()
    expect(page.locator("#pk-free")).to_have_text("10")
    svc.plate_entry(lot=lot, plate="鲁A12345")
    stream.send("parking", {"kind": "entry", "lot": lot.pk + 1000, "free": True, "region": "x"})  # another lot: no refresh
    page.wait_for_timeout(1500)
    assert requests == [] and page.locator("#pk-free").inner_text() == "10"
    stream.send("parking", {"kind": "entry", "lot": lot.pk, "free": True, "allowed": True, "region": "x"})
    expect(page.locator("#pk-free")).to_have_text("9", timeout=5000)
    expect(page.locator("#pk-inside")).to_have_text("1")
    assert time.monotonic() - loaded < 9, "refreshed by the 10 s polling, not by the live event"
    assert len(requests) == 1


def test_A4_watch_hit_appears_in_the_guards_alarm_list_at_once(page, live_server, live_on, settings):
    tree = live_on
    settings.LINLI_ACCESS_CHECK_MS = 0
    access_decision.invalidate()
    guard = f.account("watch_guard", perms=["access.watch_list", "access.visitor_desk"], scope=tree.community_a)
    est = f.estate(tree.community_a)
    house = f.house(tree.grid_a, est=est, number="606")
    f.residency(f.person(tree.grid_a, name="主人甲"), house)
    manager = f.account("access_live_mgr", perms=list(AccessPerm), scope=tree.community_a)
    group = access_svc.gate_group_create(actor=manager, code="E-LIVE", name="南门", level="estate", estate=est)
    gate, _raw = access_svc.gate_create(actor=manager, code="live-main", name="南门岗", group=group)
    idn = f.make_id_number(seq=606)
    access_svc.watch_add(actor=guard, region=tree.community_a, kind="person", id_number=idn, reason="协查", policy="deny")
    stream = Stream(page, "/console/access/stream/")
    console_login(page, live_server.url, guard.username)
    page.goto(f"{live_server.url}/console/access/watch/")
    loaded = time.monotonic()
    expect(page.locator("#watch-alarms")).to_contain_text("没有待确认的告警")
    inv = access_svc.visitor_register_at_gate(actor=guard, gate=gate, house=house, visitor_name="钱某", id_number=idn)
    alarm = inv.alarms.get()
    stream.send("access", {"kind": "watch_hit", "id": alarm.pk, "invite": inv.pk, "gate": gate.pk, "policy": "deny", "region": "x"})
    expect(page.locator(f"#watch-alarms > li#alarm-{alarm.pk}")).to_contain_text("命中关注名单", timeout=5000)
    assert page.locator("#watch-alarms #watch-alarms").count() == 0  # the list's items were swapped in, not a nested list
    assert time.monotonic() - loaded < 14, "refreshed by the 15 s polling, not by the live event"
    access_decision.invalidate()
