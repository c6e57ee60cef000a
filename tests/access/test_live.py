"""A3/A4 live feed: what a guard must see at once (denied entries, visitor arrivals and registrations,
watch-list hits) is published on the "access" channel after commit — ids, kinds and region path, never
personal data — and streamed to console viewers in whose scope it happened; without a live backend the
pages only poll and a decision costs no extra query or callback."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from linli.access import decision
from linli.access import services as svc
from tests import factories as f
from tests.conftest import LIVE_REDIS_URL, live_frames, need_service

from .conftest import card, resident

ID_KEYS = {"kind", "region", "gate", "invite", "id", "status", "policy"}


def _gate_row(gate) -> decision.GateRow:
    return decision.get_index().gates[gate.code]


def _no_personal_data(events: list[tuple[str, dict]], *secrets: str) -> None:
    for channel, event in events:
        assert channel == "access"
        assert set(event) <= ID_KEYS, event
        assert all(v is None or isinstance(v, int | str) for v in event.values()), event
        text = json.dumps(event, ensure_ascii=False)
        for secret in secrets:
            assert secret not in text, (secret, event)


def test_A3_denied_entry_and_visitor_arrival_published_after_commit_without_personal_data(site, live_sent,
                                                                                          django_capture_on_commit_callbacks):
    card(site, site.owner, "A1001")
    gate = _gate_row(site.main_gate)
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.decide_and_log(gate=gate, credential_kind="card", credential_value="A1001")[0].allowed
    assert live_sent == []  # a resident walking in is not news: the feed's polling shows it
    with django_capture_on_commit_callbacks(execute=True):
        assert not svc.decide_and_log(gate=gate, credential_kind="card", credential_value="FFFF0001")[0].allowed
    assert live_sent == [("access", {"kind": "denied", "gate": site.main_gate.pk, "region": site.main_gate.region.path})]
    vf, vu = timezone.now() - dt.timedelta(minutes=5), timezone.now() + dt.timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        inv = svc.visitor_invite(actor=resident(site.owner), house=site.h11, visitor_name="周访客", valid_from=vf, valid_until=vu,
                                 visitor_phone="13900001111", plate="鲁A12345")
    token, _ = svc.visitor_pass(invite=inv)
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.decide_and_log(gate=gate, credential_kind="qr", credential_value=token)[0].reason == "visitor"
    assert [e["kind"] for _c, e in live_sent] == ["denied", "visitor", "visitor_arrived"]
    assert live_sent[1][1] == {"kind": "visitor", "id": inv.pk, "status": "confirmed", "region": site.h11.region.path}
    assert live_sent[2][1] == {"kind": "visitor_arrived", "gate": site.main_gate.pk, "invite": inv.pk, "region": site.main_gate.region.path}
    _no_personal_data(live_sent, "周访客", "13900001111", "1111", "鲁A12345", "A1001", "FFFF0001", site.owner.name, token[:20])


def test_A4_watch_hit_and_registration_published_on_commit_not_on_rollback(site, live_sent, django_capture_on_commit_callbacks):
    idn = f.make_id_number(seq=777)
    svc.watch_add(actor=site.manager, region=site.tree.community_a, kind="person", id_number=idn, reason="公安协查", policy="deny")
    desk = f.account("desk", perms=["access.visitor_desk"], scope=site.tree.community_a)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        svc.visitor_register_at_gate(actor=desk, gate=site.main_gate, house=site.h11, visitor_name="钱某", id_number=idn,
                                     visitor_phone="13800002222")
        raise RuntimeError("the request failed after the service")
    assert live_sent == []
    with django_capture_on_commit_callbacks(execute=True):
        inv = svc.visitor_register_at_gate(actor=desk, gate=site.main_gate, house=site.h11, visitor_name="钱某", id_number=idn,
                                           visitor_phone="13800002222")
    alarm = inv.alarms.get()
    assert [e for _c, e in live_sent] == [
        {"kind": "watch_hit", "id": alarm.pk, "invite": inv.pk, "gate": site.main_gate.pk, "policy": "deny", "region": site.h11.region.path},
        {"kind": "visitor", "id": inv.pk, "status": "denied", "region": site.h11.region.path},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        svc.alarm_acknowledge(actor=site.manager, alarm=alarm)
    assert live_sent[-1][1] == {"kind": "alarm_acknowledged", "id": alarm.pk, "region": site.h11.region.path}
    _no_personal_data(live_sent, "钱某", idn, idn[-4:], "13800002222", "公安协查")


def test_A3_publishing_adds_no_query_and_no_callback_to_a_decision(site, settings, live_sent, django_capture_on_commit_callbacks):
    gate = _gate_row(site.main_gate)
    settings.LINLI_ACCESS_CHECK_MS = 60_000  # the index is fresh: one decision is exactly its one INSERT
    settings.LINLI_ACCESS_EXTERNAL_CHECK_S = 60

    def one_denied_decision() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert not svc.decide_and_log(gate=gate, credential_kind="card", credential_value="FFFF0002")[0].allowed
        return len(queries), len(callbacks)

    with_live = one_denied_decision()
    assert live_sent and live_sent[-1][1]["kind"] == "denied"
    settings.LINLI_LIVE_REDIS_URL = ""
    without = one_denied_decision()
    assert with_live == (1, 1) and without == (1, 0)  # same single INSERT; no live backend: not even an on_commit callback
    assert len(live_sent) == 1


def test_A3_access_stream_is_204_without_live_backend_and_403_without_access_permission(site, settings):
    settings.LINLI_LIVE_REDIS_URL = ""
    c = Client()
    c.force_login(site.manager)
    assert c.get(reverse("console:access_stream")).status_code == 204
    page = c.get(reverse("console:access_gate", args=[site.main_gate.pk])).content.decode()
    assert "data-live-url" not in page and "linli/live.js" not in page and 'hx-trigger="every 3s' in page  # polling only
    settings.LINLI_LIVE_REDIS_URL = LIVE_REDIS_URL
    nobody = Client()
    nobody.force_login(f.account(perms=["person.view"], scope=site.tree.community_a))
    assert nobody.get(reverse("console:access_stream")).status_code == 403


def test_A3_A4_console_pages_subscribe_their_regions_when_live(site, settings):
    settings.LINLI_LIVE_REDIS_URL = LIVE_REDIS_URL
    c = Client()
    c.force_login(site.manager)
    stream = reverse("console:access_stream")
    gate = c.get(reverse("console:access_gate", args=[site.main_gate.pk])).content.decode()
    assert f'data-live-url="{stream}" data-live-events="access"' in gate and "linli/live.js" in gate
    assert f'data-live-match=\'{{"gate": {site.main_gate.pk}, "kind": ["denied", "visitor_arrived", "uploaded"]}}\'' in gate
    assert 'every 3s [' in gate and ', live [' in gate  # polling stays as the fallback
    visitors = c.get(reverse("console:access_visitors")).content.decode()
    assert 'hx-select="#visitor-rows > tr"' in visitors and '\'{"kind": "visitor"}\'' in visitors
    watch = c.get(reverse("console:access_watch")).content.decode()
    assert 'hx-select="#watch-alarms > li"' in watch and '"kind": ["watch_hit", "alarm_acknowledged"]' in watch


def test_A3_stream_delivers_only_events_in_the_viewers_scope(site, settings, django_capture_on_commit_callbacks):
    need_service("Redis", "127.0.0.1", 6379)
    settings.LINLI_LIVE_REDIS_URL = LIVE_REDIS_URL
    settings.LINLI_LIVE_STREAM_SECONDS = 2
    guard = f.account(perms=["access.log_view"], scope=site.tree.community_a)
    c = Client()
    c.force_login(guard)
    resp = c.get(reverse("console:access_stream"))
    assert resp.status_code == 200 and resp["Content-Type"] == "text/event-stream"
    frames = iter(resp.streaming_content)
    assert next(frames).startswith(b"retry:")  # subscribed
    with django_capture_on_commit_callbacks(execute=True):
        svc.decide_and_log(gate=_gate_row(site.gate_b), credential_kind="card", credential_value="FFFF0003")  # community B
    with django_capture_on_commit_callbacks(execute=True):
        svc.decide_and_log(gate=_gate_row(site.main_gate), credential_kind="card", credential_value="FFFF0004")
    assert live_frames(frames, "access") == [{"kind": "denied", "gate": site.main_gate.pk, "region": site.main_gate.region.path}]
