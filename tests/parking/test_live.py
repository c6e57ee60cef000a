"""K2/K4 live feed: entries, exits, payments and free-space changes are published on the "parking"
channel after commit — lot id, kind, region path, never a plate — and streamed to console viewers in
whose scope the lot lies; the lot page refreshes its feed and figures on them and keeps polling. Without
a live backend a barrier decision costs no extra query or callback."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from linli.parking import decision
from linli.parking import services as svc
from linli.parking.models import ParkingSession
from linli.parking.perms import ParkingPerm as P
from tests import factories as f
from tests.conftest import LIVE_REDIS_URL, live_frames, need_service

from .conftest import T0

H = dt.timedelta(hours=1)
PLATE = "鲁A12345"


def _events(sent: list[tuple[str, dict]]) -> list[dict]:
    assert all(channel == "parking" for channel, _e in sent)
    for _c, event in sent:
        assert set(event) <= {"kind", "lot", "free", "region", "allowed", "session"}, event
        assert PLATE not in json.dumps(event, ensure_ascii=False) and "12345" not in json.dumps(event)
    return [e for _c, e in sent]


def test_K2_entry_exit_and_payment_published_after_commit_without_the_plate(lot_site, live_sent, django_capture_on_commit_callbacks):
    s = lot_site
    region = s.lot.region.path
    with django_capture_on_commit_callbacks(execute=True):
        d = svc.plate_entry(lot=s.lot, plate=PLATE, at=T0)
        svc.plate_entry(lot=s.lot, plate=PLATE, at=T0 + dt.timedelta(seconds=2))  # a second camera read: nothing moved
        svc.plate_exit(lot=s.lot, plate=PLATE, at=T0 + 2 * H)  # payment due: the barrier stays shut
        svc.pay(actor=s.manager, session=ParkingSession.objects.get(pk=d.session_id), amount_fen=700, at=T0 + 2 * H)
        svc.plate_exit(lot=s.lot, plate=PLATE, at=T0 + 2 * H + dt.timedelta(minutes=5))
    base = {"lot": s.lot.pk, "region": region}
    assert _events(live_sent) == [
        {"kind": "entry", "allowed": True, "free": True, **base},
        {"kind": "entry", "allowed": True, "free": False, **base},
        {"kind": "exit", "allowed": False, "free": False, **base},
        {"kind": "payment", "session": d.session_id, "free": False, **base},
        {"kind": "exit", "allowed": True, "free": True, **base},
    ]


def test_K2_nothing_published_when_the_decision_rolls_back(lot_site, live_sent, django_capture_on_commit_callbacks):
    s = lot_site
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        assert svc.plate_entry(lot=s.lot, plate=PLATE, at=T0).allowed
        raise RuntimeError("rolled back")
    assert live_sent == []
    assert not ParkingSession.objects.filter(plate=PLATE).exists()


def test_K4_moves_and_booth_closure_change_free_spaces(lot_site, live_sent, django_capture_on_commit_callbacks):
    s = lot_site
    svc.flag_add(actor=s.manager, region=s.tree.community_a, plate="鲁B99999", kind="stolen", reason="报案")
    with django_capture_on_commit_callbacks(execute=True):
        assert not svc.plate_entry(lot=s.lot, plate="鲁B99999", at=T0).allowed
        d = svc.plate_entry(lot=s.lot, plate=PLATE, at=T0)
        svc.locate(lot=decision.get_index().lots[s.lot.pk], plate=PLATE, zone_code="B1")
        svc.session_close(actor=s.manager, session=ParkingSession.objects.get(pk=d.session_id), note="车辆未识别离场")
    assert [(e["kind"], e.get("allowed"), e["free"]) for e in _events(live_sent)] == [
        ("entry", False, False), ("entry", True, True), ("located", None, True), ("exit", True, True)]
    assert "鲁B99999" not in json.dumps([e for _c, e in live_sent], ensure_ascii=False)


def test_K2_publishing_adds_no_query_to_a_barrier_decision(lot_site, settings, live_sent, django_capture_on_commit_callbacks):
    s = lot_site
    decision.get_index()
    settings.LINLI_PARKING_CHECK_MS = 60_000  # the index is fresh

    def one_entry(plate: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert svc.plate_entry(lot=s.lot, plate=plate, at=T0).allowed
        return len([q for q in queries if "SAVEPOINT" not in q["sql"]]), len(callbacks)

    with_live = one_entry("鲁A10001")
    assert [e["kind"] for e in _events(live_sent)] == ["entry"]
    settings.LINLI_LIVE_REDIS_URL = ""
    without = one_entry("鲁A10002")
    assert with_live[0] == without[0] and with_live[1] == without[1] + 1  # same queries; no backend: no callback either
    assert len(live_sent) == 1


def test_K3_parking_stream_is_204_without_live_backend_and_403_without_parking_view(lot_site, settings):
    s = lot_site
    settings.LINLI_LIVE_REDIS_URL = ""
    c = Client()
    c.force_login(s.manager)
    assert c.get(reverse("console:parking_stream")).status_code == 204
    page = c.get(reverse("console:parking_lot", args=[s.lot.pk])).content.decode()
    assert "data-live-url" not in page and "linli/live.js" not in page and 'hx-trigger="every 3s' in page
    settings.LINLI_LIVE_REDIS_URL = LIVE_REDIS_URL
    nobody = Client()
    nobody.force_login(f.account(perms=["person.view"], scope=s.tree.community_a))
    assert nobody.get(reverse("console:parking_stream")).status_code == 403


def test_K4_lot_page_subscribes_feed_and_figures_and_figures_fragment_is_scoped(lot_site, settings, django_assert_max_num_queries):
    s = lot_site
    settings.LINLI_LIVE_REDIS_URL = LIVE_REDIS_URL
    svc.plate_entry(lot=s.lot, plate=PLATE, at=T0)
    c = Client()
    c.force_login(s.manager)
    page = c.get(reverse("console:parking_lot", args=[s.lot.pk])).content.decode()
    stream = reverse("console:parking_stream")
    assert page.count(f'data-live-url="{stream}" data-live-events="parking"') == 2 and "linli/live.js" in page
    assert f'\'{{"lot": {s.lot.pk}, "free": true}}\'' in page and f'\'{{"lot": {s.lot.pk}, "kind": ["entry", "exit"]}}\'' in page
    assert 'id="pk-free">9<' in page and 'id="pk-zones"' in page
    with django_assert_max_num_queries(8):
        r = c.get(reverse("console:parking_figures", args=[s.lot.pk]), headers={"HX-Request": "true"})
    frag = r.content.decode()
    assert r.status_code == 200 and "<html" not in frag
    assert 'id="pk-free">9<' in frag and 'id="pk-inside">1<' in frag and 'id="pk-zones" hx-swap-oob="true"' in frag
    assert c.get(reverse("console:parking_figures", args=[s.lot.pk])).status_code == 302  # not htmx → the page
    assert c.get(reverse("console:parking_figures", args=[s.lot_b.pk]), headers={"HX-Request": "true"}).status_code == 404


def test_K3_stream_delivers_only_lots_in_the_viewers_scope(lot_site, settings, django_capture_on_commit_callbacks):
    need_service("Redis", "127.0.0.1", 6379)
    s = lot_site
    settings.LINLI_LIVE_REDIS_URL = LIVE_REDIS_URL
    settings.LINLI_LIVE_STREAM_SECONDS = 2
    c = Client()
    c.force_login(f.account(perms=[P.VIEW], scope=s.tree.community_a))
    resp = c.get(reverse("console:parking_stream"))
    assert resp.status_code == 200 and resp["Content-Type"] == "text/event-stream"
    frames = iter(resp.streaming_content)
    assert next(frames).startswith(b"retry:")  # subscribed
    with django_capture_on_commit_callbacks(execute=True):
        svc.plate_entry(lot=s.lot_b, plate="鲁B11111", at=T0)  # community B
    with django_capture_on_commit_callbacks(execute=True):
        svc.plate_entry(lot=s.lot, plate=PLATE, at=T0)
    assert live_frames(frames, "parking") == [{"kind": "entry", "lot": s.lot.pk, "free": True, "region": s.lot.region.path, "allowed": True}]
