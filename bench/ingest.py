"""Ingest benchmark (D2), four measurements in ONE run against one throw-away Mosquitto (the product
config deploy/mosquitto/linli.conf, anonymous, 127.0.0.1:18840) and its own PostgreSQL database
(``linli_bench_ingest`` on the server of DATABASE_URL; created and migrated when missing):

1. raw: paho publishers → Mosquitto QoS 1 → bare paho subscribers (``$share``, auto-ack) — the machine's
   limit, measured first with the same publisher processes and subscriber count as step 2;
2. Linli: ``manage.py iot_ingest --shared`` workers (ack after commit) storing the telemetry of N
   simulated devices with latest values and rules; sustained msg/s from the first publish to the last
   row committed, rows counted in the table at the end (0 lost);
3. alarm latency at a fixed rate: smoke readings that raise an alarm, device timestamp (wall clock at
   publishing) → alarm row ``created_at``; p50/p95/p99;
4. crash test: ``kill -9`` of every worker while M messages (one row each) stream in, restart, count
   exactly M rows (none lost, none twice; redelivered messages are counted as ignored duplicates).

Publishers run in their own processes (``--publishers``), so on 2 cores they compete with the workers
for CPU exactly as a real device fleet on the same machine would not: figures are a lower bound.
``run(full=True)``: 10,000 devices, 300,000 messages, 30 s at 1,000 msg/s, 100,000-message crash test.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
PORT = 18840
URL = f"mqtt://127.0.0.1:{PORT}"
DB_NAME = "linli_bench_ingest"
GOALS = {"msg_per_s": 15000, "ratio_vs_raw": 0.7, "lost": 0, "alarm_p99_ms": 50, "crash_messages": 100_000}


# ---- processes ------------------------------------------------------------------------------------
def _broker(tmp: str) -> subprocess.Popen:
    import getpass

    conf = (ROOT / "deploy/mosquitto/linli.conf").read_text()
    conf = conf.replace("persistence_location /var/lib/mosquitto/", f"persistence_location {tmp}/")
    drop = ("password_file", "acl_file", "allow_anonymous", "listener", "plugin")  # anonymous, no plugin: the bench's own port
    conf = "\n".join(line for line in conf.splitlines() if not line.startswith(drop))
    conf += f"\nallow_anonymous true\nlistener {PORT} 127.0.0.1\nuser {getpass.getuser()}\n"
    path = Path(tmp) / "bench.conf"
    path.write_text(conf)
    proc = subprocess.Popen(["mosquitto", "-c", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start on port {PORT}") from None
            time.sleep(0.05)


def _publisher(out: mp.Queue, usernames: list[str], kinds: list[str], total: int, kw: dict) -> None:
    from linli.iot import simulate

    out.put(simulate.run(URL, usernames, total=total, kinds=kinds, **kw))


def _publish(devs: list[tuple[str, str]], total: int, procs: int, **kw) -> dict:
    """``total`` messages from ``procs`` publisher processes, each with its own slice of the devices
    (device timestamps stay unique per device). Returns when every message is acknowledged by the broker."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    rate = kw.pop("rate", 0)
    workers = []
    for p in range(procs):
        mine = devs[p::procs]
        n = total // procs + (1 if p < total % procs else 0)
        args = (q, [u for u, _ in mine], [k for _, k in mine], n, {**kw, "rate": rate / procs, "seed": p + 1})
        workers.append(ctx.Process(target=_publisher, args=args, daemon=True))
    for w in workers:
        w.start()
    results = [q.get(timeout=900) for _ in workers]
    for w in workers:
        w.join(10)
    return {"processes": procs, "messages": sum(r["messages"] for r in results), "slowest_acked_s": max(r["acked_s"] for r in results)}


def _raw_subscriber(counts, slot: int, ready) -> None:
    import paho.mqtt.client as mqtt

    n = 0

    def on_message(c, u, m):
        nonlocal n
        n += 1
        if n % 256 == 0:
            counts[slot] = n

    def on_connect(c, u, f, rc, p):
        c.subscribe("$share/bench/bench/v1/+/telemetry", qos=1)

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{slot}", protocol=mqtt.MQTTv5)
    c.on_message = on_message
    c.on_connect = on_connect
    c.on_subscribe = lambda *a: ready.set()
    c.connect("127.0.0.1", PORT)
    c.loop_start()
    while True:
        time.sleep(0.05)
        counts[slot] = n


def _raw(devs: list[tuple[str, str]], messages: int, publishers: int, subscribers: int) -> dict:
    ctx = mp.get_context("fork")
    counts = ctx.Array("q", subscribers, lock=False)
    subs = []
    for s in range(subscribers):
        ready = ctx.Event()
        proc = ctx.Process(target=_raw_subscriber, args=(counts, s, ready), daemon=True)
        proc.start()
        ready.wait(10)
        subs.append(proc)
    time.sleep(0.2)
    t0 = time.perf_counter()
    pub = _publish(devs, messages, publishers, rate=0, topic_prefix="bench/v1", base_ms=0)
    deadline = time.monotonic() + 300
    while sum(counts) < messages and time.monotonic() < deadline:
        time.sleep(0.01)
    secs = time.perf_counter() - t0
    got = sum(counts)
    for proc in subs:
        proc.kill()
        proc.join()
    return {"messages": messages, "delivered": got, "seconds": round(secs, 2), "msg_per_s": round(got / secs), "subscribers": subscribers,
            "publisher": pub}


class Workers:
    """``manage.py iot_ingest --shared`` processes with fixed client ids (persistent sessions)."""

    def __init__(self, tmp: str, n: int) -> None:
        self.tmp, self.n, self.procs, self.starts = Path(tmp), n, [], 0

    def start(self) -> None:
        self.starts += 1
        logs = []
        for k in range(self.n):
            log = self.tmp / f"worker{k}-{self.starts}.log"
            with open(log, "w") as out:
                self.procs.append(subprocess.Popen(
                    [sys.executable, str(ROOT / "manage.py"), "iot_ingest", "--url", URL, "--client-id", f"linli-bench-{k}", "--shared"],
                    cwd=ROOT, env=dict(os.environ, LINLI_LOG_LEVEL="WARNING"), stdout=out, stderr=subprocess.STDOUT))
            logs.append(log)
        deadline = time.monotonic() + 120
        for log, proc in zip(logs, self.procs, strict=True):
            while "MQTT connected" not in log.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("ingest worker did not start:\n" + log.read_text()[-3000:])
                time.sleep(0.05)
        time.sleep(0.5)  # SUBACK: publishing before the shared subscriptions exist would lose messages

    def kill9(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGKILL)
        for p in self.procs:
            p.wait()
        self.procs = []

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []


# ---- database -------------------------------------------------------------------------------------
def _database() -> str:
    from bench import people

    base = urlparse(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    if base.scheme not in ("postgres", "postgresql"):
        base = urlparse("postgres://postgres@127.0.0.1:5432/postgres")
    url = base._replace(path=f"/{DB_NAME}").geturl()
    people.ensure_database(url)
    os.environ["DATABASE_URL"] = url
    return url


def _grid():
    from linli.places.models import Level, Region

    grid = Region.objects.filter(level=Level.GRID).order_by("path").first()
    if grid:
        return grid
    node = None
    for level, code in ((Level.CITY, "990000"), (Level.DISTRICT, "990001"), (Level.STREET, "990001001"),
                        (Level.COMMUNITY, "990001001001"), (Level.GRID, "990001001001001")):
        fields = {"level": level, "code": code, "name": f"基准{level.label}"}
        node = Region.objects.add_root(fields) if node is None else Region.objects.add_child(node, fields)
    return node


def _rows(since_ms: int, id_range: tuple[int, int]) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM iot_telemetry WHERE ts >= to_timestamp(%s / 1000.0) AND device_id BETWEEN %s AND %s",
                    [since_ms, *id_range])
        return cur.fetchone()[0]


def _wait_rows(expected: int, since_ms: int, id_range: tuple[int, int], timeout: float, already: int = 0) -> tuple[int, float]:
    """Poll until ``expected`` new rows exist (beyond ``already`` in the window before the phase);
    returns (new rows, perf_counter when they were seen)."""
    deadline = time.monotonic() + timeout
    n = _rows(since_ms, id_range) - already
    while n < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        n = _rows(since_ms, id_range) - already
    return n, time.perf_counter()


def _duplicates_ignored() -> int:
    from django.db.models import Sum

    from linli.iot.models import IngestCounter

    return IngestCounter.objects.filter(channel="mqtt").aggregate(n=Sum("duplicates"))["n"] or 0


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 1)


# ---- the four measurements ------------------------------------------------------------------------
def run(devices: int = 1000, messages: int = 30_000, latency_s: float = 5, latency_rate: int = 1000, crash_messages: int = 20_000,
        workers: int = 2, publishers: int = 2, full: bool = False) -> dict:
    if full:
        devices, messages, latency_s, crash_messages = 10_000, 300_000, 30, 100_000
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
    sys.path.insert(0, str(ROOT))
    db_url = _database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from linli.iot import simulate
    from linli.iot.management.commands.simulate import ensure_devices
    from linli.iot.models import Alarm, Device

    call_command("migrate", verbosity=0)
    _grid()
    devs = ensure_devices(devices)
    ids = dict(Device.objects.filter(serial__in=[u for u, _ in devs]).values_list("serial", "id"))
    id_range = (min(ids.values()), max(ids.values()))
    connection.close()  # no open connection is inherited by the forked publishers
    report: dict = {"bench": "iot_ingest", "database": f"postgresql {DB_NAME}", "devices": devices, "ingest_workers": workers,
                    "publisher_processes": publishers, "goals": GOALS}
    with tempfile.TemporaryDirectory() as tmp:
        broker = _broker(tmp)
        pool = Workers(tmp, workers)
        try:
            # 1. the machine's limit
            report["raw_paho_mosquitto_qos1"] = _raw(devs, messages, publishers, workers)
            raw_rate = report["raw_paho_mosquitto_qos1"]["msg_per_s"]

            # 2. Linli ingest, sustained
            pool.start()
            base = int(time.time() * 1000)
            expected = sum(simulate.ROWS_PER_MESSAGE[devs[i % len(devs)][1]] for i in range(messages))
            already = _rows(base, id_range)  # rows of earlier runs in the window (normally none)
            t0 = time.perf_counter()
            pub = _publish(devs, messages, publishers, rate=0, base_ms=base)
            stored, t_end = _wait_rows(expected, base, id_range, timeout=600, already=already)
            secs = t_end - t0
            rate = round(messages * min(1.0, stored / expected) / secs)
            report["linli_ingest"] = {"messages": messages, "rows_expected": expected, "rows_stored": stored, "lost_rows": max(0, expected - stored),
                                      "seconds": round(secs, 2), "msg_per_s": rate, "rows_per_s": round(stored / secs),
                                      "ratio_vs_raw": round(rate / raw_rate, 2) if raw_rate else None, "publisher": pub}

            # 3. alarm latency at a fixed rate (smoke detectors only; every 10th message raises smoke)
            smoke = [d for d in devs if d[1] == "smoke_detector"]
            started = time.time()
            n_lat = int(latency_rate * latency_s)
            pub = _publish(smoke, n_lat, publishers, rate=latency_rate, live_ts=True, alarm_every=10)
            time.sleep(2)  # the last batches commit
            since = dt.datetime.fromtimestamp(started, tz=dt.UTC)
            lat = [(c - s).total_seconds() * 1000 for s, c in Alarm.objects.filter(started_at__gte=since).values_list("started_at", "created_at")]
            report["alarm_latency"] = {"rate_msg_s": latency_rate, "seconds": latency_s, "messages": n_lat, "alarms": len(lat),
                                       "p50_ms": _pct(lat, 0.5), "p95_ms": _pct(lat, 0.95), "p99_ms": _pct(lat, 0.99),
                                       "max_ms": round(max(lat), 1) if lat else None, "publisher": pub,
                                       "measured": "device timestamp (wall clock at publishing, ms) → alarm row created_at"}

            # 4. crash test: kill -9 every worker mid-stream, restart, count exactly
            gas = [d for d in devs if d[1] == "gas_detector"]  # one row per message
            gas_ids = [ids[u] for u, _ in gas]
            gas_range = (min(gas_ids), max(gas_ids))  # other devices' rows in between are not written in this phase
            dup_before = _duplicates_ignored()
            base = int(time.time() * 1000) + 1000
            already = _rows(base, gas_range)
            ctx = mp.get_context("fork")
            connection.close()
            feeder = ctx.Process(target=_publish, args=(gas, crash_messages, publishers), kwargs={"rate": 0, "base_ms": base})
            feeder.start()
            _wait_rows(crash_messages * 3 // 10, base, gas_range, timeout=300, already=already)
            pool.kill9()
            killed_at = _rows(base, gas_range) - already
            time.sleep(1)
            pool.start()
            feeder.join(900)
            _wait_rows(crash_messages, base, gas_range, timeout=600, already=already)
            time.sleep(3)  # anything stored twice would show up now
            stored = _rows(base, gas_range) - already
            report["crash_test"] = {"messages": crash_messages, "rows_when_killed": killed_at, "rows_stored": stored,
                                    "lost": max(0, crash_messages - stored), "extra": max(0, stored - crash_messages),
                                    "redelivered_duplicates_ignored": _duplicates_ignored() - dup_before,
                                    "exact": stored == crash_messages}
        finally:
            pool.stop()
            broker.terminate()
            broker.wait(10)
    li, al, cr = report["linli_ingest"], report["alarm_latency"], report["crash_test"]
    report["met"] = {
        "msg_per_s": li["msg_per_s"] >= GOALS["msg_per_s"],
        "ratio_vs_raw": (li["ratio_vs_raw"] or 0) >= GOALS["ratio_vs_raw"],
        "lost": li["lost_rows"] == 0,
        "alarm_p99_ms": al["p99_ms"] is not None and al["p99_ms"] <= GOALS["alarm_p99_ms"],
        "crash_exact": cr["exact"] and cr["messages"] >= GOALS["crash_messages"],
    }
    report["database_url"] = db_url.split("@")[-1]
    return report


if __name__ == "__main__":
    import json

    print(json.dumps(run(full="--full" in sys.argv), indent=2, ensure_ascii=False))
