"""ThingsBoard-compatible device topics (D2) through the Linli Mosquitto plugin, against a REAL
throw-away broker (127.0.0.1:18850) running the product config with the plugin built from
deploy/mosquitto/plugin/. A device that only knows ThingsBoard topics logs in with its access token as
username; its messages reach the ingest workers on its own linli/v1/<device>/... topic, so it cannot
pose as another device, and RPC requests reach only its own connection.

Messages seen by the ingest service account are fed through the real pipeline in process
(``topic_to_message`` → ``ingest_batch``), so these tests run on SQLite and PostgreSQL; the last one
runs the real ``iot_ingest`` worker and needs PostgreSQL (the worker subprocess shares the database)."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import timezone

from linli.iot import rpc, services
from linli.iot.ingest import DIRECTORY, ingest_batch
from linli.iot.models import Device, DeviceCommand, Telemetry
from linli.iot.mqtt import topic_to_message
from tests.factories import account
from tests.iot.helpers import device
from tests.iot.mqtt_support import (
    SERVICE_PASSWORD,
    SERVICE_USER,
    Broker,
    Inbox,
    build_plugin,
    close,
    connect,
    start_worker,
    wait_published,
)

PORT = 18850
INGEST_TOPICS = ("linli/v1/+/telemetry", "linli/v1/+/attributes", "linli/v1/+/gateway/telemetry", "linli/v1/+/rpc/response/+")

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tb_broker(tmp_path):
    b = Broker(tmp_path, PORT, build_plugin())
    yield b
    b.stop()


def started(broker: Broker) -> Broker:
    broker.write_credentials()
    broker.start()
    return broker


def service_inbox() -> Inbox:
    return Inbox(connect(PORT, SERVICE_USER, SERVICE_PASSWORD, client_id="svc-test"), *INGEST_TOPICS)


def ingest(messages: list[tuple[str, bytes]]):
    now = timezone.now()
    return ingest_batch([topic_to_message(t, p, now) for t, p in messages], channel="mqtt")


def test_D2_tb_token_login_telemetry_and_attributes_stored_for_that_device(tb_broker, tree):
    (a, a_creds), (b, b_creds) = device(tree.grid_a), device(tree.grid_a)
    started(tb_broker)
    inbox = service_inbox()
    # ThingsBoard's SDK: token as username, no password, MQTT 5 with an empty client id
    dev_a = connect(PORT, a_creds.access_token, v5=True)
    dev_b = connect(PORT, b_creds.access_token)
    wait_published([
        dev_a.publish("v1/devices/me/telemetry", '{"ts": 1763900000000, "values": {"smoke": 0.02, "battery": 88}}', qos=1),
        dev_a.publish("v1/devices/me/attributes", '{"firmware": "1.4.2"}', qos=1),
        dev_b.publish("v1/devices/me/telemetry", '[{"ts": 1763900001000, "values": {"smoke": 0.01}}, {"battery": 70}]', qos=1),
    ])
    got = inbox.wait(3)
    assert sorted(t for t, _ in got) == sorted([f"linli/v1/{a.mqtt_username}/telemetry", f"linli/v1/{a.mqtt_username}/attributes",
                                                f"linli/v1/{b.mqtt_username}/telemetry"])
    result = ingest(got)
    assert (result.stored, result.rejected) == (4, 0)
    assert Telemetry.objects.filter(device=a).count() == 2 and Telemetry.objects.filter(device=b).count() == 2
    assert Device.objects.get(pk=a.pk).attributes["firmware"] == "1.4.2"
    # the native linli/v1/<username>/... path with username + password keeps working next to it
    native = connect(PORT, a.mqtt_username, a_creds.mqtt_password)
    wait_published([native.publish(f"linli/v1/{a.mqtt_username}/telemetry", '{"ts": 1763900002000, "values": {"smoke": 0.03}}', qos=1)])
    assert inbox.wait(4)[-1][0] == f"linli/v1/{a.mqtt_username}/telemetry"
    close(dev_a, dev_b, native, inbox.client)


def test_D2_tb_device_cannot_spoof_another_device_and_bad_tokens_are_refused(tb_broker, tree):
    (a, a_creds), (b, _b_creds) = device(tree.grid_a), device(tree.grid_a)
    started(tb_broker)
    inbox = service_inbox()
    assert connect(PORT, "dt_not-a-token", expect_failure=True).is_failure
    assert connect(PORT, b.mqtt_username, "wrong password", expect_failure=True).is_failure
    # Its own connection: Mosquitto 2.0.11 answers a denied QoS 1 publish in a way that makes paho drop the link.
    intruder = connect(PORT, a_creds.access_token, client_id="intruder")
    intruder.publish(f"linli/v1/{b.mqtt_username}/telemetry", '{"ts": 1763800000000, "values": {"smoke": 9}}', qos=1)
    dev_a = connect(PORT, a_creds.access_token)
    # ThingsBoard topics always mean "me": the message lands on a's own topic, whatever the payload says;
    # the native topic named by its own token is a's too (the ACL pattern %u is the token)
    wait_published([dev_a.publish("v1/devices/me/telemetry", json.dumps({b.serial: {"smoke": 9}}), qos=1),
                    dev_a.publish(f"linli/v1/{a_creds.access_token}/telemetry", '{"smoke": 8}', qos=1)])
    got = inbox.wait(2)
    time.sleep(0.5)  # anything else (the spoofing attempt) would have arrived by now
    assert sorted(t for t, _ in inbox.messages) == sorted([f"linli/v1/{a.mqtt_username}/telemetry", f"linli/v1/{a_creds.access_token}/telemetry"])
    ingest(got)
    assert not Telemetry.objects.filter(device=b).exists()  # b's serial in the payload is just a key of a's
    assert set(Telemetry.objects.filter(device=a).values_list("key", flat=True)) == {b.serial, "smoke"}
    close(dev_a, inbox.client)
    intruder.loop_stop()


def test_D2_tb_gateway_topic_stores_children_and_new_tokens_work_after_reload(tb_broker, tree):
    gw, gw_creds = device(tree.grid_a, "gateway")
    started(tb_broker)
    # a device provisioned while the broker runs: its token works after the files are rewritten + SIGHUP
    child, _ = device(tree.grid_a, "smoke_detector", gateway=gw)
    assert connect(PORT, _new_token(child), expect_failure=True).is_failure
    child_token = _new_token(child)
    tb_broker.write_credentials()
    tb_broker.reload()
    connect(PORT, child_token).disconnect()
    inbox = service_inbox()
    gateway = connect(PORT, gw_creds.access_token)
    payload = {child.serial: [{"ts": 1763900000000, "values": {"smoke": 0.02}}, {"ts": 1763900060000, "values": {"smoke": 0.04}}]}
    wait_published([gateway.publish("v1/gateway/telemetry", json.dumps(payload), qos=1)])
    got = inbox.wait(1)
    assert [t for t, _ in got] == [f"linli/v1/{gw.mqtt_username}/gateway/telemetry"]
    DIRECTORY.clear()
    result = ingest(got)
    assert (result.stored, result.rejected) == (2, 0)
    assert list(Telemetry.objects.filter(device=child).values_list("value", flat=True).order_by("ts")) == [0.02, 0.04]
    close(gateway, inbox.client)


def _new_token(dev: Device) -> str:
    return services.device_reset_credentials(actor=account(superuser=True), device=dev).access_token


def test_D2_tb_rpc_request_reaches_only_that_device_and_its_response_completes_the_command(tb_broker, tree, settings):
    (a, a_creds), (_b, b_creds) = device(tree.grid_a, "streetlight"), device(tree.grid_a, "streetlight")
    started(tb_broker)
    settings.LINLI_MQTT_URL = tb_broker.service_url
    responses = service_inbox()
    dev_a = connect(PORT, a_creds.access_token, v5=True)
    dev_b = connect(PORT, b_creds.access_token, v5=True)
    a_inbox, b_inbox = Inbox(dev_a, "v1/devices/me/rpc/request/+"), Inbox(dev_b, "v1/devices/me/rpc/request/+")
    cmd = services.command_send(actor=account(superuser=True), device=a, method="setPower", params={"on": True})  # published after commit
    assert DeviceCommand.objects.get(pk=cmd.pk).status == "delivered"
    got = a_inbox.wait(1)
    assert got == [(f"v1/devices/me/rpc/request/{cmd.rpc_id}", b'{"method": "setPower", "params": {"on": true}}')]
    time.sleep(0.5)
    assert b_inbox.messages == []
    wait_published([dev_a.publish(f"v1/devices/me/rpc/response/{cmd.rpc_id}", '{"result": "on"}', qos=1)])
    answer = responses.wait(1)
    assert answer[0][0] == f"linli/v1/{a.mqtt_username}/rpc/response/{cmd.rpc_id}"
    rpc.handle_response(*answer[0])
    assert DeviceCommand.objects.get(pk=cmd.pk).status == "acknowledged"
    # once a's connection is gone, a request for a is copied to nobody (never to another device)
    close(dev_a)
    cmd2 = services.command_send(actor=account(superuser=True), device=a, method="setPower", params={"on": False})
    assert DeviceCommand.objects.get(pk=cmd2.pk).status == "delivered"
    time.sleep(0.5)
    assert b_inbox.messages == [] and len(a_inbox.messages) == 1
    close(dev_b, responses.client)


def test_D2_tb_device_stream_stored_by_the_ingest_worker(tb_broker, tree):
    from tests.iot.test_mqtt_e2e import _kill, _require_pg, wait_count

    _require_pg()
    (a, a_creds), (b, b_creds) = device(tree.grid_a), device(tree.grid_a)
    started(tb_broker)
    worker = start_worker(tb_broker.tmp, tb_broker.service_url, client_id="linli-ingest-tb", log_name="worker.log")
    try:
        tb = connect(PORT, a_creds.access_token, v5=True)
        native = connect(PORT, b.mqtt_username, b_creds.mqtt_password)
        infos = []
        for i in range(500):
            infos.append(tb.publish("v1/devices/me/telemetry", f'{{"ts": {1763900000000 + i}, "values": {{"smoke": 0.01}}}}', qos=1))
            infos.append(native.publish(f"linli/v1/{b.mqtt_username}/telemetry", f'{{"ts": {1763900000000 + i}, "values": {{"smoke": 0.02}}}}', qos=1))
        wait_published(infos)
        assert wait_count(1000) == 1000
        assert Telemetry.objects.filter(device=a, value=0.01).count() == 500 and Telemetry.objects.filter(device=b, value=0.02).count() == 500
        close(tb, native)
    finally:
        _kill(worker)
