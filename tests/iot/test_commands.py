"""Device commands (D5): pending → delivered → acknowledged / failed / timed_out, over HTTP polling and
over the real Mosquitto (MQTT RPC), with permission, scope and audit."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from linli.audit.models import AuditEntry
from linli.iot import services
from linli.iot.models import DeviceCommand
from linli.iot.perms import IotPerm
from tests.factories import account
from tests.iot.helpers import device
from tests.iot.test_mqtt_e2e import PORT, ROOT, SERVICE_PASSWORD, _kill, broker, write_passwords  # noqa: F401 — broker is a fixture

OPERATOR_PERMS = [IotPerm.DEVICE_VIEW, IotPerm.COMMAND_SEND]


def operator(region):
    return account(perms=OPERATOR_PERMS, scope=region)


def test_D5_http_polling_lifecycle_and_audit(tree, api_as, client):
    light, creds = device(tree.grid_a, "streetlight")
    api = api_as(operator(tree.community_a))
    r = api.post(f"iot/devices/{light.pk}/commands", {"method": "setPower", "params": {"on": True}})
    assert r.status_code == 201, r.json()
    first = r.json()
    assert first["status"] == "pending" and first["rpc_id"] == 1 and first["device_serial"] == light.serial
    second = api.post(f"iot/devices/{light.pk}/commands", {"method": "setDim", "params": {"level": 40}, "timeout_s": 60}).json()
    assert second["rpc_id"] == 2
    base = f"/api/v1/iot/http/{creds.access_token}/rpc"
    polled = client.get(base)
    assert polled.status_code == 200 and polled.json() == {"id": 1, "method": "setPower", "params": {"on": True}}
    assert api.get(f"iot/commands/{first['id']}").json()["status"] == "delivered"
    assert client.get(base).json()["id"] == 1  # not answered yet: offered again
    ok = client.post(f"{base}/1", data=b'{"result": "on"}', content_type="application/json")
    assert ok.status_code == 200 and ok.json() == {"id": 1, "status": "acknowledged"}
    done = api.get(f"iot/commands/{first['id']}").json()
    assert done["response"] == {"result": "on"} and done["responded_at"] and done["delivered_at"]
    assert client.get(base).json() == {"id": 2, "method": "setDim", "params": {"level": 40}}
    failed = client.post(f"{base}/2", data=b'{"error": "driver fault"}', content_type="application/json")
    assert failed.json()["status"] == "failed"
    assert client.get(base).status_code == 204
    # a repeated answer changes nothing; unknown ids and bad JSON are clear 4xx
    assert client.post(f"{base}/1", data=b'{"error": "late"}', content_type="application/json").json()["status"] == "acknowledged"
    assert client.post(f"{base}/99", data=b"{}", content_type="application/json").status_code == 404
    assert client.post(f"{base}/1", data=b"{oops", content_type="application/json").status_code == 422
    assert client.get("/api/v1/iot/http/nope/rpc").status_code == 401
    page = api.get(f"iot/devices/{light.pk}/commands").json()
    assert [c["rpc_id"] for c in page["items"]] == [2, 1]
    assert [c["rpc_id"] for c in api.get(f"iot/devices/{light.pk}/commands", {"status": "failed"}).json()["items"]] == [2]
    actions = list(AuditEntry.objects.filter(object_type__icontains="command").values_list("action", flat=True))
    assert actions.count("iot.command_send") == 2 and "iot.command_delivered" in actions and actions.count("iot.command_response") == 2


def test_D5_methods_validated_per_device_type(tree, api_as):
    light, _ = device(tree.grid_a, "streetlight")
    smoke, _ = device(tree.grid_a, "smoke_detector")
    api = api_as(operator(tree.community_a))
    r = api.post(f"iot/devices/{smoke.pk}/commands", {"method": "setPower", "params": {"on": True}})
    assert r.status_code == 422 and r.json()["code"] == "command.bad_method" and r.json()["detail"]["allowed"] == ["reboot"]
    assert api.post(f"iot/devices/{smoke.pk}/commands", {"method": "reboot"}).status_code == 201
    for params in ({"level": 101}, {"level": "50"}, {"on": True}, {}):
        r = api.post(f"iot/devices/{light.pk}/commands", {"method": "setDim", "params": params})
        assert r.status_code == 422 and r.json()["code"] == "command.bad_params", params
    good = {"method": "setSchedule", "params": {"on": "18:30", "off": "06:00", "dim": 60}}
    assert api.post(f"iot/devices/{light.pk}/commands", good).status_code == 201
    bad = {"method": "setSchedule", "params": {"on": "25:00", "off": "06:00"}}
    assert api.post(f"iot/devices/{light.pk}/commands", bad).json()["code"] == "command.bad_params"
    assert api.post(f"iot/devices/{light.pk}/commands", {"method": "openGate"}).json()["code"] == "command.bad_method"
    gate, _ = device(tree.grid_a, "barrier_gate")
    assert api.post(f"iot/devices/{gate.pk}/commands", {"method": "openGate", "params": {"seconds": 10}}).status_code == 201
    assert api.post(f"iot/devices/{gate.pk}/commands", {"method": "openGate", "params": {"seconds": 0}}).json()["code"] == "command.bad_params"
    assert api.post(f"iot/devices/{light.pk}/commands", {"method": "reboot", "timeout_s": 0}).status_code == 422
    services.device_update(actor=account(superuser=True), device=light, changes={"status": "maintenance"})
    assert api.post(f"iot/devices/{light.pk}/commands", {"method": "reboot"}).json()["code"] == "command.device_inactive"


def test_D5_permission_and_cross_community_isolation(tree, api_as, django_assert_max_num_queries):
    mine, _ = device(tree.grid_a, "streetlight")
    other, _ = device(tree.grid_b, "streetlight")
    boss = account(superuser=True)
    other_cmd = services.command_send(actor=boss, device=other, method="reboot")
    for _ in range(3):
        services.command_send(actor=boss, device=mine, method="reboot")
    viewer = api_as(account(perms=[IotPerm.DEVICE_VIEW], scope=tree.community_a))
    r = viewer.post(f"iot/devices/{mine.pk}/commands", {"method": "reboot"})
    assert r.status_code == 404  # device.view holders see the device, but it is outside any command.send scope
    assert len(viewer.get(f"iot/devices/{mine.pk}/commands").json()["items"]) == 3
    api = api_as(operator(tree.community_a))
    assert api.post(f"iot/devices/{other.pk}/commands", {"method": "reboot"}).status_code == 404
    assert api.get(f"iot/devices/{other.pk}/commands").status_code == 404
    assert api.get(f"iot/commands/{other_cmd.pk}").status_code == 404
    with django_assert_max_num_queries(8):
        r = api.get(f"iot/devices/{mine.pk}/commands", {"limit": 2})
    assert len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    with pytest.raises(Exception) as exc:
        services.command_send(actor=account(perms=[IotPerm.DEVICE_VIEW], scope=tree.city), device=mine, method="reboot")
    assert getattr(exc.value, "status", None) == 403


def test_D5_timeout_sweep(tree, api_as, client):
    light, creds = device(tree.grid_a, "streetlight")
    t0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    api = api_as(operator(tree.community_a))
    with time_machine.travel(t0, tick=False):
        cmd = api.post(f"iot/devices/{light.pk}/commands", {"method": "setPower", "params": {"on": False}, "timeout_s": 30}).json()
        quick = api.post(f"iot/devices/{light.pk}/commands", {"method": "reboot", "timeout_s": 120}).json()
    with time_machine.travel(t0 + dt.timedelta(seconds=29), tick=False):
        assert services.command_timeouts() == 0
        assert client.get(f"/api/v1/iot/http/{creds.access_token}/rpc").json()["id"] == cmd["rpc_id"]
    with time_machine.travel(t0 + dt.timedelta(seconds=31), tick=False):
        assert services.command_timeouts() == 1
        assert services.command_timeouts() == 0  # idempotent
        assert client.get(f"/api/v1/iot/http/{creds.access_token}/rpc").json()["id"] == quick["rpc_id"]  # the expired one is not offered
        late = client.post(f"/api/v1/iot/http/{creds.access_token}/rpc/{cmd['rpc_id']}", data=b"{}", content_type="application/json")
        assert late.json()["status"] == "timed_out"
    assert DeviceCommand.objects.get(pk=cmd["id"]).status == "timed_out"
    assert DeviceCommand.objects.get(pk=quick["id"]).status == "delivered"
    assert AuditEntry.objects.filter(action="iot.command_timeout").count() == 1
    with time_machine.travel(t0 + dt.timedelta(seconds=121), tick=False):
        call_command("iot_command_timeouts", stdout=io.StringIO())
    assert DeviceCommand.objects.get(pk=quick["id"]).status == "timed_out"


# ---- over the real Mosquitto (PostgreSQL run: the worker subprocess shares the test database) -----
def start_rpc_worker(tmp) -> subprocess.Popen:
    s = connection.settings_dict
    env = dict(os.environ, DATABASE_URL=f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}", LINLI_LOG_LEVEL="WARNING")
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "iot_rpc", "--url", f"mqtt://linli-ingest:{SERVICE_PASSWORD}@127.0.0.1:{PORT}",
         "--client-id", "linli-rpc-test", "--sweep-s", "0.5"],
        cwd=ROOT, env=env, stdout=open(tmp / "rpc.log", "w"), stderr=subprocess.STDOUT,
    )


def fake_device(username: str, password: str, answers: dict[str, dict]):
    """A device that subscribes to its requests and answers each per method."""
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"dev-{username}", protocol=mqtt.MQTTv311)
    c.username_pw_set(username, password)
    subscribed = threading.Event()
    seen: list[dict] = []

    def on_message(client, userdata, msg):
        req = json.loads(msg.payload)
        seen.append(req)
        rpc_id = msg.topic.rsplit("/", 1)[1]
        if req["method"] in answers:
            client.publish(f"linli/v1/{username}/rpc/response/{rpc_id}", json.dumps(answers[req["method"]]), qos=1)

    c.on_connect = lambda client, userdata, flags, rc, props: client.subscribe(f"linli/v1/{username}/rpc/request/+", qos=1)
    c.on_subscribe = lambda *a: subscribed.set()
    c.on_message = on_message
    c.connect("127.0.0.1", PORT)
    c.loop_start()
    assert subscribed.wait(10), "device could not subscribe"
    return c, seen


def wait_status(pk: int, status: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = DeviceCommand.objects.get(pk=pk).status
        if current == status:
            return current
        time.sleep(0.1)
    return DeviceCommand.objects.get(pk=pk).status


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_D5_mqtt_rpc_round_trip_failure_and_timeout(broker, tree, api_as, settings):  # noqa: F811 — the broker fixture
    light, creds = device(tree.grid_a, "streetlight")
    write_passwords(broker)
    broker.start()
    settings.LINLI_MQTT_URL = f"mqtt://linli-ingest:{SERVICE_PASSWORD}@127.0.0.1:{PORT}"
    worker = start_rpc_worker(broker.tmp)
    dev, seen = fake_device(light.mqtt_username, creds.mqtt_password, {"setPower": {"result": "on"}, "setDim": {"error": "no dimmer"}})
    try:
        deadline = time.monotonic() + 60
        while "RPC worker connected" not in (broker.tmp / "rpc.log").read_text():
            assert worker.poll() is None, (broker.tmp / "rpc.log").read_text()
            assert time.monotonic() < deadline, "rpc worker did not connect"
            time.sleep(0.05)
        time.sleep(0.3)  # SUBACK
        api = api_as(operator(tree.community_a))
        ok = api.post(f"iot/devices/{light.pk}/commands", {"method": "setPower", "params": {"on": True}}).json()
        assert wait_status(ok["id"], "acknowledged") == "acknowledged"
        got = DeviceCommand.objects.get(pk=ok["id"])
        assert got.response == {"result": "on"} and got.delivered_at and got.responded_at
        assert {"method": "setPower", "params": {"on": True}} in seen
        bad = api.post(f"iot/devices/{light.pk}/commands", {"method": "setDim", "params": {"level": 10}}).json()
        assert wait_status(bad["id"], "failed") == "failed"
        silent = api.post(f"iot/devices/{light.pk}/commands", {"method": "reboot", "timeout_s": 1}).json()
        assert api.get(f"iot/commands/{silent['id']}").json()["status"] == "delivered"  # accepted by the broker
        assert wait_status(silent["id"], "timed_out") == "timed_out"  # the worker's sweep
    finally:
        dev.disconnect()
        dev.loop_stop()
        _kill(worker)
