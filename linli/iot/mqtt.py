"""MQTT ingest worker (D2): paho-mqtt 2, QoS 1, persistent session, acknowledge only after commit.

- Fixed client id + MQTT 5 ``clean_start=False`` with a session expiry: while the worker is down (or
  killed with -9) the broker keeps its subscriptions and queues its messages.
- ``manual_ack=True``: paho does not PUBACK on receipt. Messages are collected into batches,
  ``ingest_batch`` commits them, and only then every message of the batch is acknowledged.
- Batching without added latency: the worker takes whatever has arrived as soon as anything has (up to
  ``batch_size``); while a batch commits the next one accumulates, so batches grow with the load by
  themselves. ``batch_ms`` > 0 additionally waits that long for a batch to fill.
  Unacknowledged messages are redelivered after a crash; the (device, key, ts) key makes them no-ops.
- Acks are tagged with the connection generation: after a reconnect the broker resends what was not
  acknowledged, so acks belonging to the old connection are dropped rather than sent on the new one.
- Topics: ``linli/v1/<device>/telemetry``, ``linli/v1/<device>/attributes`` and
  ``linli/v1/<gateway>/gateway/telemetry`` (``<device>`` = MQTT username, enforced by the broker ACL
  ``pattern readwrite linli/v1/%u/#``). With ``shared=True`` the worker subscribes through
  ``$share/linli-ingest/...`` so several workers split the load.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt
from django.db import close_old_connections
from django.utils import timezone
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .ingest import IngestResult, InMessage, ingest_batch

log = logging.getLogger("linli.iot.mqtt")

TOPICS = ("linli/v1/+/telemetry", "linli/v1/+/attributes", "linli/v1/+/gateway/telemetry")
SHARE_GROUP = "linli-ingest"
SESSION_EXPIRY_S = 7 * 24 * 3600


def topic_to_message(topic: str, payload: bytes, received_at: dt.datetime) -> InMessage:
    parts = topic.split("/")
    kind = "unknown"
    identity = parts[2] if len(parts) > 2 else ""
    if len(parts) == 4 and parts[3] in ("telemetry", "attributes"):
        kind = parts[3]
    elif len(parts) == 5 and parts[3:] == ["gateway", "telemetry"]:
        kind = "gateway"
    return InMessage(identity=identity, kind=kind, payload=payload, received_at=received_at)


@dataclass
class BrokerUrl:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        p = urlparse(url or "mqtt://127.0.0.1:1883")
        return cls(p.hostname or "127.0.0.1", p.port or 1883, unquote(p.username) if p.username else None,
                   unquote(p.password) if p.password else None)


class IngestWorker:
    def __init__(self, url: str, *, client_id: str = "linli-ingest-1", batch_size: int = 5000, batch_ms: int = 0,
                 shared: bool = False, qos: int = 1) -> None:
        self.broker = BrokerUrl.parse(url)
        self.client_id = client_id
        self.batch_size = batch_size
        self.batch_s = batch_ms / 1000
        self.shared = shared
        self.qos = qos
        self.inbox: deque[tuple[int, int, int, str, bytes]] = deque()  # (generation, mid, qos, topic, payload)
        self.generation = 0
        self.connected = threading.Event()
        self.arrived = threading.Event()  # set by the network thread when the inbox gets a message
        self.stopping = threading.Event()
        self.totals = IngestResult()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True)
        if self.broker.username:
            self.client.username_pw_set(self.broker.username, self.broker.password)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.2, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # -- paho callbacks (network thread) --
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connect refused: %s", reason_code)
            return
        self.generation += 1
        prefix = f"$share/{SHARE_GROUP}/" if self.shared else ""
        client.subscribe([(prefix + t, self.qos) for t in TOPICS])
        log.info("MQTT connected to %s:%s as %s (session present: %s)", self.broker.host, self.broker.port, self.client_id, flags.session_present)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self.stopping.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        self.inbox.append((self.generation, msg.mid, msg.qos, msg.topic, msg.payload))
        if not self.arrived.is_set():
            self.arrived.set()

    # -- main loop (this thread): batch → commit → ack --
    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        self.stopping.set()

    def _take_batch(self) -> list[tuple[int, int, int, str, bytes]]:
        if not self.inbox:
            self.arrived.clear()
            if not self.inbox:  # a message appended between the check and clear() set the event again
                self.arrived.wait(0.2)
        if self.batch_s and self.inbox:
            deadline = time.monotonic() + self.batch_s
            while len(self.inbox) < self.batch_size and time.monotonic() < deadline and not self.stopping.is_set():
                time.sleep(0.002)
        batch = []
        for _ in range(min(self.batch_size, len(self.inbox))):
            batch.append(self.inbox.popleft())
        return batch

    def process(self, batch: list[tuple[int, int, int, str, bytes]]) -> IngestResult:
        now = timezone.now()
        msgs = [topic_to_message(t, p, now) for _g, _m, _q, t, p in batch]
        delay = 0.5
        while True:
            try:
                result = ingest_batch(msgs, channel="mqtt", now=now)
                break
            except Exception:
                log.exception("ingest batch of %d failed; retrying in %.1fs (nothing acknowledged)", len(batch), delay)
                close_old_connections()
                if self.stopping.wait(delay):
                    raise
                delay = min(delay * 2, 10)
        current = self.generation
        for gen, mid, qos, _t, _p in batch:
            if qos and gen == current:
                self.client.ack(mid, qos)
        return result

    def run(self, *, max_idle_s: float | None = None) -> IngestResult:
        self.start()
        idle_since = time.monotonic()
        try:
            while not self.stopping.is_set():
                batch = self._take_batch()
                if not batch:
                    if max_idle_s is not None and time.monotonic() - idle_since > max_idle_s:
                        break
                    continue
                idle_since = time.monotonic()
                r = self.process(batch)
                for f in ("messages", "stored", "duplicates", "rejected", "alarms_raised", "alarms_cleared"):
                    setattr(self.totals, f, getattr(self.totals, f) + getattr(r, f))
        finally:
            self.client.disconnect()
            self.client.loop_stop()
        return self.totals

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
