"""Live feeds for the console over Redis pub/sub: channels "alarms" (D4), "access" (A3/A4) and
"parking" (K2/K4). Console views stream them through ``linli.console.streams.live_stream_response`` and
pages subscribe their htmx regions with static/linli/live.js.

``publish(channel, event)`` sends a small JSON event (ids, kinds and region paths only — never personal
data) to every subscriber after the surrounding transaction commits. ``stream(...)`` yields
server-sent-event frames for one browser: the events of the channels it asked for whose region the
viewer may see, a comment every few seconds as a heartbeat, and it ends after
``LINLI_LIVE_STREAM_SECONDS`` (the browser's EventSource reconnects by itself), so a WSGI thread is
never held for long. At most ``LINLI_LIVE_MAX_STREAMS`` streams are open per process; beyond that,
and when Redis is not configured or unreachable, pages fall back to polling (they always poll, the
stream only makes the update immediate).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction

log = logging.getLogger("linli.live")
PREFIX = "linli:live:"
HEARTBEAT_S = 10.0
_slots_lock = threading.Lock()
_slots: dict[str, threading.BoundedSemaphore] = {}


@lru_cache(maxsize=1)
def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=5, health_check_interval=30)


def redis_url() -> str:
    return getattr(settings, "LINLI_LIVE_REDIS_URL", "") or ""


def enabled() -> bool:
    return bool(redis_url())


def _send(channel: str, payload: str) -> None:
    try:
        _client(redis_url()).publish(PREFIX + channel, payload)
    except Exception as exc:  # a live feed must never break the write that triggered it
        log.warning("live publish to %s failed: %s", channel, exc)


def publish(channel: str, event: dict[str, Any]) -> None:
    """Publish ``event`` on ``channel`` once the current transaction commits (at once outside one)."""
    if not enabled():
        return
    payload = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
    transaction.on_commit(lambda: _send(channel, payload))


def _slot() -> threading.BoundedSemaphore:
    with _slots_lock:
        key = str(getattr(settings, "LINLI_LIVE_MAX_STREAMS", 4))
        if key not in _slots:
            _slots[key] = threading.BoundedSemaphore(int(key))
        return _slots[key]


def try_acquire() -> threading.BoundedSemaphore | None:
    """A stream slot, or None when the process already serves the maximum number of streams."""
    if not enabled():
        return None
    slot = _slot()
    return slot if slot.acquire(blocking=False) else None


def frame(event: dict[str, Any], name: str = "message") -> bytes:
    return f"event: {name}\ndata: {json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def stream(channels: Iterable[str], *, allowed: Callable[[dict[str, Any]], bool], slot: threading.BoundedSemaphore,
           seconds: float | None = None) -> Iterator[bytes]:
    """SSE frames for one viewer; releases ``slot`` when done (also when the browser goes away)."""
    seconds = float(seconds if seconds is not None else getattr(settings, "LINLI_LIVE_STREAM_SECONDS", 25))
    pubsub = None
    try:
        pubsub = _client(redis_url()).pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(*[PREFIX + c for c in channels])
        yield b"retry: 3000\n: connected\n\n"
        end = time.monotonic() + seconds
        beat = time.monotonic() + HEARTBEAT_S
        while (left := end - time.monotonic()) > 0:
            msg = pubsub.get_message(timeout=min(left, 1.0))
            if msg and msg.get("type") == "message":
                try:
                    event = json.loads(msg["data"])
                except (TypeError, ValueError):
                    continue
                if isinstance(event, dict) and allowed(event):
                    yield frame(event, msg["channel"].decode().removeprefix(PREFIX) if isinstance(msg["channel"], bytes) else "message")
            if time.monotonic() >= beat:
                beat = time.monotonic() + HEARTBEAT_S
                yield b": ping\n\n"
    except Exception as exc:
        log.warning("live stream ended: %s", exc)
    finally:
        if pubsub is not None:
            with contextlib.suppress(Exception):  # connection already gone
                pubsub.close()
        slot.release()
