"""Device simulator (D2): publishes ThingsBoard-style telemetry for N devices at R messages/s in total
over MQTT (QoS 1, ``linli/v1/<username>/telemetry``, device timestamps) — used by the demo and bench."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

import paho.mqtt.client as mqtt

from .mqtt import BrokerUrl


def payload(kind: str, ts_ms: int, rnd: random.Random) -> str:
    if kind == "gas_detector":
        return f'{{"ts":{ts_ms},"values":{{"gas_lel":{rnd.uniform(0, 8):.2f}}}}}'
    if kind == "trash_bin":
        return f'{{"ts":{ts_ms},"values":{{"fill_level":{rnd.uniform(0, 70):.1f},"weight":{rnd.uniform(0, 40):.1f}}}}}'
    return f'{{"ts":{ts_ms},"values":{{"smoke":{rnd.uniform(0, 0.05):.3f},"battery":{rnd.randint(30, 100)}}}}}'


def run(url: str, usernames: Sequence[str], *, rate: float, total: int, kinds: Sequence[str] | None = None,
        qos: int = 1, connections: int = 4, seed: int = 1) -> dict:
    """Publish ``total`` messages spread over ``usernames`` at ``rate`` msg/s (0 = as fast as possible)
    through ``connections`` MQTT connections (a gateway-like multiplexing of many devices; the broker
    ACL must allow it — the bench runs against an anonymous broker). Returns counts and timings."""
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
    base_ms = int(time.time() * 1000) - total  # unique, increasing device timestamps
    infos = []
    t0 = time.perf_counter()
    n_dev = len(usernames)
    for i in range(total):
        if rate:
            lag = t0 + i / rate - time.perf_counter()
            if lag > 0:
                time.sleep(lag)
        d = i % n_dev
        kind = kinds[d] if kinds else "smoke_detector"
        infos.append(clients[i % connections].publish(f"linli/v1/{usernames[d]}/telemetry", payload(kind, base_ms + i // n_dev, rnd), qos=qos))
    sent = time.perf_counter() - t0
    for info in infos:
        while not info.is_published():
            time.sleep(0.001)
    acked = time.perf_counter() - t0
    for c in clients:
        c.disconnect()
        c.loop_stop()
    return {"messages": total, "publish_s": round(sent, 3), "acked_s": round(acked, 3), "rate_msg_s": round(total / acked, 1)}
