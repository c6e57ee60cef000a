"""Live console regions in a real browser (K4 with static/linli/live.js, the helper every live page
uses): a parking event for this lot on the console's server-sent-event stream refreshes the lot's
free-space figures at once — long before their 10-second polling would — while an event for another
lot does not. The stream itself is served by the browser's network layer here (page.route), so the
test needs neither Redis nor a second server thread."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

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
def live_lot(transactional_db, settings, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LINLI_PARKING_CHECK_MS = 0
    settings.LINLI_LIVE_REDIS_URL = LIVE_REDIS_URL  # pages render their live regions …
    monkeypatch.setattr(live, "_send", lambda channel, payload: None)  # … and nothing reaches Redis
    decision.invalidate()
    tree = f.Tree()
    manager = f.account("pk_live_mgr", perms=list(P), scope=tree.community_a)
    lot, _token = svc.lot_create(actor=manager, code="P-LIVE", name="实时地库", capacity=10, estate=f.estate(tree.community_a))
    yield lot, manager
    decision.invalidate()


def test_K4_lot_figures_refresh_on_a_live_event_for_their_lot_only(page, live_server, live_lot):
    lot, manager = live_lot
    frames: list[str] = []
    requests: list[str] = []

    def serve_stream(route):  # each reconnect gets the events queued so far, then the stream ends
        body = "retry: 300\n\n" + "".join(frames)
        frames.clear()
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}, body=body)

    page.route("**/console/parking/stream/", serve_stream)
    page.on("request", lambda r: requests.append(r.url) if "/figures/" in r.url else None)
    console_login(page, live_server.url, manager.username)
    page.goto(f"{live_server.url}/console/parking/lots/{lot.pk}/")
    loaded = time.monotonic()
    expect(page.locator("#pk-free")).to_have_text("10")
    svc.plate_entry(lot=lot, plate="鲁A12345")

    def send(event: dict) -> None:
        frames.append(f"event: parking\ndata: {json.dumps(event)}\n\n")

    send({"kind": "entry", "lot": lot.pk + 1000, "free": True, "region": "x"})  # another lot: no refresh
    page.wait_for_timeout(1500)
    assert requests == [] and page.locator("#pk-free").inner_text() == "10"
    send({"kind": "entry", "lot": lot.pk, "free": True, "allowed": True, "region": "x"})
    expect(page.locator("#pk-free")).to_have_text("9", timeout=5000)
    expect(page.locator("#pk-inside")).to_have_text("1")
    assert time.monotonic() - loaded < 9, "refreshed by the 10 s polling, not by the live event"
    assert len(requests) == 1
