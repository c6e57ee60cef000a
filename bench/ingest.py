"""Ingest benchmark (D2): raw paho → Mosquitto QoS 1 throughput (the machine's limit) vs Linli's ingest
(MQTT worker → batch write + latest values + rules) on the configured database, N simulated devices.

``run()`` uses a throw-away Mosquitto with the product config (deploy/mosquitto/linli.conf, anonymous,
port 18840) and the database of DATABASE_URL (PostgreSQL for meaningful figures). Default run is short
(≈1 min); ``run(full=True)`` = 10,000 devices, 300,000 messages."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 18840


def _broker(tmp: str) -> subprocess.Popen:
    import getpass

    conf = (ROOT / "deploy/mosquitto/linli.conf").read_text()
    conf = conf.replace("persistence_location /var/lib/mosquitto/", f"persistence_location {tmp}/")
    conf = "\n".join(line for line in conf.splitlines() if not line.startswith(("password_file", "acl_file", "allow_anonymous", "listener")))
    conf += f"\nallow_anonymous true\nlistener {PORT} 127.0.0.1\nuser {getpass.getuser()}\n"
    path = Path(tmp) / "bench.conf"
    path.write_text(conf)
    proc = subprocess.Popen(["mosquitto", "-c", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc


def _raw(url: str, messages: int) -> dict:
    import paho.mqtt.client as mqtt

    from linli.iot import simulate

    got = 0
    done = threading.Event()

    def on_message(c, u, m):
        nonlocal got
        got += 1
        if got >= messages:
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw-sub", protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    sub.connect("127.0.0.1", PORT)
    sub.subscribe("bench/v1/+/telemetry", qos=1)
    sub.loop_start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    names = [f"raw{i}" for i in range(100)]
    # publish to a topic the ingest worker does not read
    import paho.mqtt.client as _m

    orig = _m.Client.publish

    def publish(self, topic, payload=None, qos=0, retain=False, properties=None):
        return orig(self, topic.replace("linli/v1/", "bench/v1/", 1), payload, qos, retain, properties)

    _m.Client.publish = publish
    try:
        simulate.run(url, names, rate=0, total=messages)
    finally:
        _m.Client.publish = orig
    done.wait(120)
    secs = time.perf_counter() - t0
    sub.disconnect()
    sub.loop_stop()
    return {"messages": messages, "delivered": got, "seconds": round(secs, 2), "msg_per_s": round(got / secs)}


def run(devices: int = 1000, messages: int = 30_000, full: bool = False) -> dict:
    if full:
        devices, messages = 10_000, 300_000
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
    import django

    django.setup()
    from django.db import connection

    from linli.iot import simulate
    from linli.iot.management.commands.simulate import ensure_devices
    from linli.iot.models import Device, Telemetry

    url = f"mqtt://127.0.0.1:{PORT}"
    with tempfile.TemporaryDirectory() as tmp:
        broker = _broker(tmp)
        try:
            raw = _raw(url, messages)
            devs = ensure_devices(devices)
            ids = list(Device.objects.filter(serial__in=[u for u, _ in devs]).values_list("id", flat=True))
            before = Telemetry.objects.filter(device_id__in=ids).count() if len(ids) < 20000 else 0
            env = dict(os.environ)
            log = Path(tmp) / "worker.log"
            with open(log, "w") as out:
                worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "iot_ingest", "--url", url, "--client-id", "linli-bench"],
                                          cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while "MQTT connected" not in log.read_text() and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.05)  # publishing before the worker's session exists would lose messages
            time.sleep(0.5)
            t0 = time.perf_counter()
            pub = simulate.run(url, [u for u, _ in devs], rate=0, total=messages, kinds=[k for _, k in devs])
            # rows per message: smoke 2, gas 1, bin 2 → expected rows from the simulator's schedule
            per = {"smoke_detector": 2, "gas_detector": 1, "trash_bin": 2}
            expected = sum(per[devs[i % len(devs)][1]] for i in range(messages))
            deadline = time.monotonic() + 300
            stored = 0
            while time.monotonic() < deadline:
                stored = Telemetry.objects.filter(device_id__in=ids).count() - before
                if stored >= expected:
                    break
                time.sleep(0.1)
            secs = time.perf_counter() - t0
            worker.terminate()
            worker.wait(30)
        finally:
            broker.terminate()
            broker.wait(10)
    ingest_rate = round(messages * min(1, stored / expected) / secs)
    return {
        "bench": "iot_ingest",
        "database": connection.vendor,
        "devices": devices,
        "raw_paho_mosquitto_qos1": raw,
        "publisher": pub,
        "linli_ingest": {"messages": messages, "rows_expected": expected, "rows_stored": stored, "seconds": round(secs, 2),
                         "msg_per_s": ingest_rate, "lost_rows": max(0, expected - stored)},
        "ratio_vs_raw": round(ingest_rate / raw["msg_per_s"], 2) if raw["msg_per_s"] else None,
        "goal": {"msg_per_s": 15000, "ratio": 0.7, "lost": 0},
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(full="--full" in sys.argv), indent=2, ensure_ascii=False))
