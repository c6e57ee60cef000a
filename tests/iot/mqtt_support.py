"""Test-owned Mosquitto brokers running the product config (deploy/mosquitto/) with the Linli
ThingsBoard-topic plugin built from source, plus paho helpers. Used by test_mqtt_e2e (port 18830) and
test_mqtt_tb_plugin (port 18850). A missing mosquitto, compiler or header skips — and fails under
LINLI_REQUIRE_SERVICES=1 (CI installs them, see .ci/run)."""

from __future__ import annotations

import getpass
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import REQUIRE_SERVICES, reachable

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SRC = ROOT / "deploy/mosquitto/plugin"
SERVICE_USER = "linli-ingest"
SERVICE_PASSWORD = "ingest-test-password"


def missing(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} required (LINLI_REQUIRE_SERVICES=1)")
    pytest.skip(f"{what} not available")


_built: list[Path] = []


def build_plugin() -> Path:
    """Compile deploy/mosquitto/plugin/linli_tb.c with its own Makefile (once per test session)."""
    if _built:
        return _built[0]
    if not shutil.which("mosquitto"):
        missing("mosquitto binary")
    if not (shutil.which("make") and (shutil.which("cc") or shutil.which("gcc"))):
        missing("make and a C compiler (gcc)")
    out = Path(tempfile.mkdtemp(prefix="linli-tb-plugin-")) / "linli_tb.so"
    proc = subprocess.run(["make", "-s", "-C", str(PLUGIN_SRC), f"OUT={out}"], capture_output=True, text=True)
    if proc.returncode != 0:
        missing(f"building the Mosquitto plugin (mosquitto-dev, libmosquitto-dev, libssl-dev headers): {proc.stderr.strip()[-500:]}")
    _built.append(out)
    return out


class Broker:
    """The product config with this test's port, files and the freshly built plugin."""

    def __init__(self, tmp: Path, port: int, plugin: Path) -> None:
        self.tmp = tmp
        self.port = port
        self.proc: subprocess.Popen | None = None
        conf = (ROOT / "deploy/mosquitto/linli.conf").read_text()
        for old, new in (
            ("persistence_location /var/lib/mosquitto/", f"persistence_location {tmp}/"),
            ("password_file /etc/mosquitto/linli.passwd", f"password_file {tmp}/linli.passwd"),
            ("acl_file /etc/mosquitto/linli.acl", f"acl_file {ROOT}/deploy/mosquitto/linli.acl"),
            ("plugin /usr/lib/linli/linli_tb.so", f"plugin {plugin}"),
            ("plugin_opt_tokens_file /etc/mosquitto/linli.tokens", f"plugin_opt_tokens_file {tmp}/linli.tokens"),
            ("listener 1883 0.0.0.0", f"listener {port} 127.0.0.1"),
        ):
            assert old in conf, f"product config changed: {old!r} not found"
            conf = conf.replace(old, new)
        conf += f"\n# test: do not drop privileges (the test's temporary files are private)\nuser {getpass.getuser()}\n"
        conf += f"log_dest file {tmp}/mosquitto.log\nlog_type all\n"
        (tmp / "linli.conf").write_text(conf)
        (tmp / "linli.passwd").write_text("")
        (tmp / "linli.tokens").write_text("")

    def write_credentials(self) -> None:
        """Password and token files from the registry (+ the ingest service account), as in production."""
        call_command("iot_broker_passwd", out=str(self.tmp / "linli.passwd"), tokens_out=str(self.tmp / "linli.tokens"),
                     service=[f"{SERVICE_USER}:{SERVICE_PASSWORD}"], stdout=io.StringIO())

    @property
    def service_url(self) -> str:
        return f"mqtt://{SERVICE_USER}:{SERVICE_PASSWORD}@127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.tmp / "linli.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", self.port):
            assert self.proc.poll() is None, "mosquitto exited:\n" + self.log()[-2000:]
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)

    def reload(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: persistence is written
            self.proc.wait(10)

    def log(self) -> str:
        path = self.tmp / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_worker(tmp: Path, url: str, *, client_id: str, log_name: str, wait: bool = True) -> subprocess.Popen:
    """``manage.py iot_ingest`` as a subprocess on the test database (PostgreSQL: the database is shared)."""
    from django.db import connection

    s = connection.settings_dict
    env = dict(os.environ, DATABASE_URL=f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}", LINLI_LOG_LEVEL="WARNING")
    log = tmp / log_name
    with open(log, "w") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "iot_ingest", "--url", url, "--client-id", client_id],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if wait:
        deadline = time.monotonic() + 60
        while "MQTT connected" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "worker did not connect"
            time.sleep(0.05)
        time.sleep(0.3)  # SUBACK
    return proc


def connect(port: int, username: str, password: str | None = None, *, client_id: str = "", v5: bool = False,
            expect_failure: bool = False):
    """A started paho client; ``expect_failure`` returns the CONNACK reason instead of asserting success."""
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or ("" if v5 else f"pub-{username}"),
                    protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
    c.username_pw_set(username, password)
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    c.reconnect_delay_set(0.1, 1)
    done = threading.Event()
    outcome: list = []

    def on_connect(client, userdata, flags, rc, props):
        outcome.append(rc)
        done.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert done.wait(10), "no CONNACK"
    if expect_failure:
        c.disconnect()
        c.loop_stop()
        return outcome[0]
    assert not outcome[0].is_failure, f"{username} could not connect: {outcome[0]}"
    return c


def wait_published(infos: list, timeout: float = 60) -> None:
    """Like wait_for_publish, but also for messages queued while the client was disconnected."""
    deadline = time.monotonic() + timeout
    for i in infos:
        while not i.is_published():
            assert time.monotonic() < deadline, "publish not acknowledged by the broker"
            time.sleep(0.01)


class Inbox:
    """Collects (topic, payload) of a subscribing client."""

    def __init__(self, client, *topics: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.client = client
        subscribed = threading.Event()
        client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        client.on_subscribe = lambda *a: subscribed.set()
        client.subscribe([(t, 1) for t in topics])
        assert subscribed.wait(10), "no SUBACK"

    def wait(self, n: int, timeout: float = 10) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)


def close(*clients) -> None:
    for c in clients:
        c.disconnect()
        c.loop_stop()
