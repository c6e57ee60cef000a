"""Device commands over MQTT RPC (D5): publishing requests, the response worker, and command reads.

Topics (DESIGN "Device identity on MQTT"; the broker ACL lets a device use only ``linli/v1/<its
username>/#`` and the ``linli-ingest`` service account write requests and read responses):

- request, platform → device: ``linli/v1/<device>/rpc/request/<rpc_id>``, payload ``{"method", "params"}``
  (QoS 1). The command becomes *delivered* when the broker has accepted it.
- response, device → platform: ``linli/v1/<device>/rpc/response/<rpc_id>``, any JSON; an object with an
  ``error`` member marks the command failed, anything else acknowledged.

``RpcWorker`` (``manage.py iot_rpc``) subscribes to the responses with a persistent session and
acknowledges each message only after its answer is committed, and sweeps timeouts while it runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections
from django.db.models import QuerySet
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from linli.core.errors import NotFound

from . import services
from .models import Device, DeviceCommand
from .mqtt import SESSION_EXPIRY_S, BrokerUrl
from .perms import IotPerm

log = logging.getLogger("linli.iot.rpc")

RESPONSE_TOPIC = "linli/v1/+/rpc/response/+"


def request_topic(cmd: DeviceCommand) -> str:
    return f"linli/v1/{cmd.device.mqtt_username}/rpc/request/{cmd.rpc_id}"


def request_payload(cmd: DeviceCommand) -> str:
    return json.dumps({"method": cmd.method, "params": cmd.params}, ensure_ascii=False)


def publish_command(command_id: int, *, url: str | None = None, timeout_s: float = 10) -> bool:
    """Publish one pending command (QoS 1) and mark it delivered once the broker has accepted it.
    False when no broker is configured (HTTP-only devices poll) or the command is no longer pending."""
    url = settings.LINLI_MQTT_URL if url is None else url
    cmd = DeviceCommand.objects.select_related("device").filter(pk=command_id, status="pending").first()
    if cmd is None or not url:
        return False
    broker = BrokerUrl.parse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    client.connect(broker.host, broker.port, keepalive=30)
    client.loop_start()
    try:
        info = client.publish(request_topic(cmd), request_payload(cmd), qos=1)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            log.warning("command %s not accepted by the broker within %ss; it stays pending", cmd.pk, timeout_s)
            return False
    finally:
        client.disconnect()
        client.loop_stop()
    return services.command_mark_delivered(command=cmd)


def parse_response_topic(topic: str) -> tuple[str, int] | None:
    parts = topic.split("/")
    if len(parts) != 6 or parts[:2] != ["linli", "v1"] or parts[3:5] != ["rpc", "response"] or not parts[5].isdigit():
        return None
    return parts[2], int(parts[5])


def handle_response(topic: str, payload: bytes) -> DeviceCommand | None:
    """Apply one response message; malformed or unknown ones are logged and dropped (never retried)."""
    parsed = parse_response_topic(topic)
    device = Device.objects.filter(mqtt_username=parsed[0]).first() if parsed else None
    if device is None:
        log.warning("RPC response on unknown topic or device: %s", topic)
        return None
    try:
        body: Any = json.loads(payload) if payload else {}
    except (ValueError, UnicodeDecodeError):
        body = {"error": "malformed response", "raw": payload[:200].decode("utf-8", "replace")}
    return services.command_respond(device=device, rpc_id=parsed[1], payload=body)


class RpcWorker:
    """Response subscriber: QoS 1, persistent session, acknowledge after commit."""

    def __init__(self, url: str, *, client_id: str = "linli-rpc-1", sweep_s: float = 5.0) -> None:
        self.broker = BrokerUrl.parse(url)
        self.sweep_s = sweep_s
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.inbox: list[tuple[int, int, str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True)
        if self.broker.username:
            self.client.username_pw_set(self.broker.username, self.broker.password)
        self.client.reconnect_delay_set(0.2, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connect refused: %s", reason_code)
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)
        log.info("RPC worker connected to %s:%s", self.broker.host, self.broker.port)
        self.connected.set()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.inbox.append((msg.mid, msg.qos, msg.topic, msg.payload))

    def stop(self) -> None:
        self.stopping.set()

    def run(self, *, max_idle_s: float | None = None) -> int:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()
        handled, last_sweep, idle_since = 0, 0.0, time.monotonic()
        try:
            while not self.stopping.is_set():
                with self.lock:
                    batch, self.inbox = self.inbox, []
                for mid, qos, topic, payload in batch:
                    try:
                        handle_response(topic, payload)
                    except Exception:
                        log.exception("RPC response on %s failed; not acknowledged", topic)
                        close_old_connections()
                        continue
                    if qos:
                        self.client.ack(mid, qos)
                    handled += 1
                if batch:
                    idle_since = time.monotonic()
                if time.monotonic() - last_sweep >= self.sweep_s:
                    services.command_timeouts()
                    last_sweep = time.monotonic()
                if max_idle_s is not None and time.monotonic() - idle_since > max_idle_s:
                    break
                time.sleep(0.02)
        finally:
            self.client.disconnect()
            self.client.loop_stop()
        return handled


# ---- reads (device.view scope) -------------------------------------------------------------------
def command_list(*, actor: Any, device_id: int | None = None, status: str | None = None) -> QuerySet[DeviceCommand]:
    qs = DeviceCommand.objects.for_actor(actor, IotPerm.DEVICE_VIEW).select_related("device")
    if device_id is not None:
        qs = qs.filter(device_id=device_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def command_get(*, actor: Any, command_id: int) -> DeviceCommand:
    obj = command_list(actor=actor).filter(pk=command_id).first()
    if obj is None:
        raise NotFound("command.not_found")
    return obj
