"""linli.core.live without a live backend (D4 and the access/parking feeds): publishing is an in-memory
no-op — no Redis client, no on_commit callback — and no stream slot is handed out, so pages poll."""

from __future__ import annotations

import pytest

from linli.core import live

pytestmark = pytest.mark.django_db


def test_D4_publish_without_live_backend_touches_nothing(settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.LINLI_LIVE_REDIS_URL = ""

    def no_redis(url):
        raise AssertionError("no Redis client without a live backend")

    monkeypatch.setattr(live, "_client", no_redis)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        live.publish("parking", {"kind": "entry", "lot": 1, "region": "1.2."})
    assert callbacks == [] and not live.enabled() and live.try_acquire() is None


def test_D4_publish_with_live_backend_waits_for_commit(settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.LINLI_LIVE_REDIS_URL = "redis://127.0.0.1:6379/15"
    sent = []
    monkeypatch.setattr(live, "_send", lambda channel, payload: sent.append((channel, payload)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        live.publish("access", {"kind": "denied", "gate": 3, "region": "1.2."})
        assert sent == []  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert sent == [("access", '{"kind":"denied","gate":3,"region":"1.2."}')]
