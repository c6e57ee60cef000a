"""A3 over MQTT: a gate controller asks access.decide on its own RPC topic and gets the decision back,
against a throw-away Mosquitto on port 18860 running the product config (with the access responder's
service account). Skipped without the mosquitto binary — a failure under LINLI_REQUIRE_SERVICES=1.

The responder handles requests on the test's thread (paho only queues them), so it shares the test's
database transaction and the test runs on SQLite and PostgreSQL alike."""

from __future__ import annotations

import getpass
import json
import shutil
import signal
import subprocess
import threading
import time
from io import StringIO
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from django.core.management import call_command

from linli.access.models import AccessEvent
from linli.access.mqtt_rpc import AccessRpcResponder, answer, parse_request_topic
from linli.iot.services import mosquitto_hash
from tests.conftest import REQUIRE_SERVICES, reachable

from .conftest import card

ROOT = Path(__file__).resolve().parents[2]
PORT = 18860
SERVICE_PASSWORD = "access-rpc-test-password"
ACCESS_ACL = """
# The access decision responder (manage.py access_rpc).
user linli-access
topic read linli/v1/+/rpc/request/#
topic write linli/v1/+/rpc/response/#
"""

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(tmp_path):
    if not shutil.which("mosquitto"):
        if REQUIRE_SERVICES:
            pytest.fail("mosquitto binary required")
        pytest.skip("mosquitto binary not installed")
    conf = (ROOT / "deploy/mosquitto/linli.conf").read_text()
    conf = conf.replace("persistence_location /var/lib/mosquitto/", f"persistence_location {tmp_path}/")
    conf = conf.replace("password_file /etc/mosquitto/linli.passwd", f"password_file {tmp_path}/linli.passwd")
    conf = conf.replace("acl_file /etc/mosquitto/linli.acl", f"acl_file {tmp_path}/linli.acl")
    conf = conf.replace("listener 1883 0.0.0.0", f"listener {PORT} 127.0.0.1")
    # Gates use the native linli/v1/<gate>/... topics: the ThingsBoard-topic plugin is not needed here.
    conf = "\n".join(line for line in conf.splitlines() if not line.startswith(("plugin ", "plugin_opt_")))
    assert f"listener {PORT}" in conf
    conf += f"\nuser {getpass.getuser()}\n"
    (tmp_path / "linli.conf").write_text(conf)
    acl = (ROOT / "deploy/mosquitto/linli.acl").read_text()
    (tmp_path / "linli.acl").write_text(acl if "user linli-access" in acl else acl + ACCESS_ACL)
    (tmp_path / "linli.passwd").write_text(f"linli-access:{mosquitto_hash(SERVICE_PASSWORD)}\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(tmp_path / "linli.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not reachable("127.0.0.1", PORT):
        assert proc.poll() is None, "mosquitto exited"
        assert time.monotonic() < deadline, "mosquitto did not start"
        time.sleep(0.05)
    yield tmp_path, proc
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


class Controller:
    """A gate controller: publishes requests on its own topic and collects responses."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.responses: dict[str, dict] = {}
        self.got = threading.Condition()
        self.ready = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gate-{username}", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(username, password)
        self.c.on_connect = lambda c, *a: c.subscribe(f"linli/v1/{username}/rpc/response/+", qos=1)
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", PORT)
        self.c.loop_start()
        assert self.ready.wait(10)

    def _on_message(self, client, userdata, msg) -> None:
        with self.got:
            self.responses[msg.topic.rsplit("/", 1)[1]] = json.loads(msg.payload)
            self.got.notify_all()

    def ask(self, rid: str, doc: dict | bytes, topic_user: str | None = None) -> None:
        payload = doc if isinstance(doc, bytes) else json.dumps(doc)
        self.c.publish(f"linli/v1/{topic_user or self.username}/rpc/request/{rid}", payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _decide(kind: str, value: str, **extra) -> dict:
    return {"method": "access.decide", "params": {"credential_kind": kind, "credential_value": value, **extra}}


def test_A3_gate_gets_decisions_over_mqtt_rpc(site, broker):
    card(site, site.owner, "AB12CD34", house=site.h11)
    # gates log in with their code and device token: merged into the password file, then the broker reloads it
    tmp, proc = broker
    out = StringIO()
    call_command("access_broker_passwd", out=str(tmp / "linli.passwd"), stdout=out)
    assert "5 gates written" in out.getvalue() and "1 other entries kept" in out.getvalue()
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    responder = AccessRpcResponder(f"mqtt://linli-access:{SERVICE_PASSWORD}@127.0.0.1:{PORT}", client_id="access-rpc-test")
    gate = Controller("u11", site.tokens["u11"])
    intruder = Controller("main", site.tokens["main"])

    def requests() -> None:
        assert responder.connected.wait(10)
        time.sleep(0.2)
        gate.ask("1", _decide("card", "AB12CD34", event_uid="mqtt-ev-1"))
        gate.ask("2", _decide("card", "FFFF0000"))
        gate.ask("3", {"method": "reboot", "params": {}})  # an iot command on the same topics: not ours
        gate.ask("4", b"not json")
        gate.ask("5", _decide("card", "AB12CD34", event_uid="mqtt-ev-1"))  # repeat: stored once
        intruder.ask("6", _decide("card", "AB12CD34"), topic_user="u11")  # the ACL stops another gate's topic

    t = threading.Thread(target=requests)
    t.start()
    answered = responder.run(max_requests=4, max_idle_s=15)
    t.join(10)
    with gate.got:
        gate.got.wait_for(lambda: len(gate.responses) >= 4, timeout=10)
    gate.close()
    intruder.close()
    assert answered == 4
    r = gate.responses
    assert r["1"]["result"]["allowed"] is True and r["1"]["result"]["reason"] == "resident" and r["1"]["result"]["person_id"] == site.owner.pk
    assert r["2"]["result"] == {"allowed": False, "reason": "unknown_credential", "person_id": None, "event_uid": r["2"]["result"]["event_uid"]}
    assert "3" not in r and r["4"]["error"]["code"] == "access.bad_json" and "6" not in r
    assert r["5"]["result"]["event_uid"] == "mqtt-ev-1"
    assert AccessEvent.objects.filter(gate=site.u11_door).count() == 2
    assert AccessEvent.objects.filter(event_uid="mqtt-ev-1", result="allow", person_id=site.owner.pk).count() == 1


def test_A3_rpc_request_validation_without_a_broker(site):
    assert parse_request_topic("linli/v1/u11/rpc/request/42") == ("u11", "42")
    assert parse_request_topic("linli/v1/u11/rpc/response/42") is None
    assert answer("u11", "1", json.dumps(_decide("laser", "x")).encode())["error"]["code"] == "access.bad_params"
    assert answer("u11", "1", json.dumps(_decide("card", "AB", at="2026-01-01T00:00")).encode())["error"]["code"] == "access.bad_params"
    assert answer("nogate", "1", json.dumps(_decide("card", "AB")).encode())["error"]["code"] == "access.unknown_gate"
    assert answer("u11", "1", b"{" + b" " * 5000 + b"}")["error"]["code"] == "access.payload_too_large"
    assert answer("u11", "1", json.dumps({"method": "access.decide", "params": []}).encode())["error"]["code"] == "access.bad_params"
    assert answer("u11", "1", json.dumps(_decide("card", "AB")).encode())["result"]["reason"] == "unknown_credential"
