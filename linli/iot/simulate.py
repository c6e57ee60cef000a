"""Device simulator (D2): publishes ThingsBoard-style telemetry for N devices at R messages/s in total
over MQTT (QoS 1, ``linli/v1/<username>/telemetry``, device timestamps) — used by the demo and bench."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

import paho.mqtt.client as mqtt

from .mqtt import BrokerUrl

SMOKE_ALARM = 0.3  # above the smoke_detector type's smoke rule (raise > 0.15, clear ≤ 0.08)
ROWS_PER_MESSAGE = {"smoke_detector": 2, "gas_detector": 1, "trash_bin": 2}


def payload(kind: str, ts_ms: int, rnd: random.Random, *, alarm: bool = False) -> str:
    """One telemetry message; ``alarm`` makes a smoke detector report smoke (its next normal reading clears it)."""
    if kind == "gas_detector":
        return f'{{"ts":{ts_ms},"values":{{"gas_lel":{rnd.uniform(0, 8):.2f}}}}}'
    if kind == "trash_bin":
        return f'{{"ts":{ts_ms},"values":{{"fill_level":{rnd.uniform(0, 70):.1f},"weight":{rnd.uniform(0, 40):.1f}}}}}'
    smoke = SMOKE_ALARM if alarm else rnd.uniform(0, 0.05)
    return f'{{"ts":{ts_ms},"values":{{"smoke":{smoke:.3f},"battery":{rnd.randint(30, 100)}}}}}'


def run(url: str, usernames: Sequence[str], *, rate: float, total: int, kinds: Sequence[str] | None = None,
        qos: int = 1, connections: int = 4, seed: int = 1, topic_prefix: str = "linli/v1", base_ms: int | None = None,
        live_ts: bool = False, alarm_every: int = 0) -> dict:
    """Publish ``total`` messages spread over ``usernames`` at ``rate`` msg/s (0 = as fast as possible)
    through ``connections`` MQTT connections (a gateway-like multiplexing of many devices; the broker
    ACL must allow it — the bench runs against an anonymous broker). Returns counts and timings.

    Device timestamps are ``base_ms`` + the device's message number (unique per device), or with
    ``live_ts`` the wall clock at publishing (for latency measurements). ``alarm_every``: every n-th
    message of a smoke detector (on its even-numbered messages, so the next one clears) reports smoke."""
    broker = BrokerUrl.parse(url)
    rnd = random.Random(seed)
    clients = []
    for i in range(connections):
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"linli-sim-{seed}-{i}", protocol=mqtt.MQTTv311)
        if broker.username:
            c.username_pw_set(broker.username, broker.password)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        ready = threading.Event()
        c.on_connect = lambda *a, ev=ready: ev.set()
        c.connect(broker.host, broker.port)
        c.loop_start()
        ready.wait(10)
        clients.append(c)
    base_ms = int(time.time() * 1000) - total if base_ms is None else base_ms  # unique, increasing device timestamps
    infos = []
    t0 = time.perf_counter()
    n_dev = len(usernames)
    for i in range(total):
        if rate:
            lag = t0 + i / rate - time.perf_counter()
            if lag > 0:
                time.sleep(lag)
        d, j = i % n_dev, i // n_dev
        kind = kinds[d] if kinds else "smoke_detector"
        ts = int(time.time() * 1000) if live_ts else base_ms + j
        alarm = bool(alarm_every) and i % alarm_every == 0 and j % 2 == 0
        infos.append(clients[i % connections].publish(f"{topic_prefix}/{usernames[d]}/telemetry", payload(kind, ts, rnd, alarm=alarm), qos=qos))
    sent = time.perf_counter() - t0
    for info in infos:
        while not info.is_published():
            time.sleep(0.001)
    acked = time.perf_counter() - t0
    for c in clients:
        c.disconnect()
        c.loop_stop()
    return {"messages": total, "publish_s": round(sent, 3), "acked_s": round(acked, 3), "rate_msg_s": round(total / acked, 1) if acked else 0.0}
