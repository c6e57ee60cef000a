"""A3 over MQTT: gate controllers ask ``{"method": "access.decide", "params": {...}}`` on
``linli/v1/<gate code>/rpc/request/<id>`` and get the decision on ``linli/v1/<gate code>/rpc/response/<id>``.

The broker's ACL (``pattern readwrite linli/v1/%u/#``) makes the topic's username the authenticated
controller, so the gate is the one named in the topic: its MQTT username is its gate code. The
responder answers from the same in-memory index as ``POST /api/v1/access/decide`` and stores every
decision (A5). It subscribes with a shared subscription, so several responders can share the load;
requests are handled on the caller's thread (``run``), paho only queues them.

Params: ``credential_kind`` (card, pin, face, fingerprint, qr), ``credential_value``, optional
``event_uid`` (repeats are stored once) and ``at`` (ISO time, offline replays). Response:
``{"id": <id>, "result": {"allowed", "reason", "person_id", "event_uid"}}`` or
``{"id": <id>, "error": {"code", "message"}}``. Other methods on the same topics (device commands
of the iot app) are ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time

import paho.mqtt.client as mqtt
from django.db import close_old_connections

from linli.iot.mqtt import BrokerUrl

from . import decision
from . import services as svc

log = logging.getLogger("linli.access")
REQUEST_TOPIC = "linli/v1/+/rpc/request/+"
SHARED_GROUP = "linli-access"
METHOD = "access.decide"
KINDS = {"card", "pin", "face", "fingerprint", "qr"}
MAX_PAYLOAD = 4096


def parse_request_topic(topic: str) -> tuple[str, str] | None:
    parts = topic.split("/")
    if len(parts) != 6 or parts[:2] != ["linli", "v1"] or parts[3:5] != ["rpc", "request"] or not parts[2] or not parts[5]:
        return None
    return parts[2], parts[5]


def _error(rid: str, code: str, message: str) -> dict:
    return {"id": rid, "error": {"code": code, "message": message}}


def answer(username: str, rid: str, payload: bytes) -> dict | None:
    """The response document for one request, or None when the request is not ours (another method)."""
    if len(payload) > MAX_PAYLOAD:
        return _error(rid, "access.payload_too_large", "request too large")
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return _error(rid, "access.bad_json", "request is not JSON")
    if not isinstance(body, dict) or body.get("method") != METHOD:
        return None
    params = body.get("params")
    if not isinstance(params, dict):
        return _error(rid, "access.bad_params", "params must be an object")
    kind, value = params.get("credential_kind"), params.get("credential_value")
    if kind not in KINDS or not isinstance(value, str) or not value or len(value) > 600:
        return _error(rid, "access.bad_params", "credential_kind and credential_value are required")
    at = None
    if params.get("at") is not None:
        try:
            at = dt.datetime.fromisoformat(str(params["at"]))
        except ValueError:
            return _error(rid, "access.bad_params", "at must be an ISO 8601 time")
        if at.tzinfo is None:
            return _error(rid, "access.bad_params", "at needs a UTC offset")
    gate = decision.get_index().gates.get(username)
    if gate is None:
        return _error(rid, "access.unknown_gate", "this MQTT user is not a gate")
    d, uid = svc.decide_and_log(gate=gate, credential_kind=kind, credential_value=value, at=at,
                                event_uid=str(params.get("event_uid") or "")[:64])
    return {"id": rid, "result": {"allowed": d.allowed, "reason": d.reason, "person_id": d.person_id, "event_uid": uid}}


class AccessRpcResponder:
    """Subscribe to gate requests (QoS 1) and publish each decision back (QoS 1)."""

    def __init__(self, url: str, *, client_id: str = "linli-access-rpc-1", shared: bool = True) -> None:
        self.broker = BrokerUrl.parse(url)
        self.topic = f"$share/{SHARED_GROUP}/{REQUEST_TOPIC}" if shared else REQUEST_TOPIC
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.pending: list[mqtt.MQTTMessageInfo] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if self.broker.username:
            self.client.username_pw_set(self.broker.username, self.broker.password)
        self.client.reconnect_delay_set(0.2, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_subscribe = lambda *a: self.connected.set()
        self.client.on_message = lambda client, userdata, msg: self.inbox.put((msg.topic, msg.payload))

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("access RPC: MQTT connect refused: %s", reason_code)
            return
        client.subscribe(self.topic, qos=1)
        log.info("access RPC connected to %s:%s", self.broker.host, self.broker.port)

    def handle(self, topic: str, payload: bytes) -> bool:
        parsed = parse_request_topic(topic)
        if parsed is None:
            return False
        username, rid = parsed
        doc = answer(username, rid, payload)
        if doc is None:
            return False
        info = self.client.publish(f"linli/v1/{username}/rpc/response/{rid}", json.dumps(doc, separators=(",", ":")), qos=1)
        self.pending = [i for i in self.pending if not i.is_published()] + [info]
        return True

    def stop(self) -> None:
        self.stopping.set()

    def run(self, *, max_idle_s: float | None = None, max_requests: int | None = None) -> int:
        """Answer requests until stopped (or idle for ``max_idle_s`` / after ``max_requests``); returns how many."""
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30, clean_start=True)
        self.client.loop_start()
        answered, idle_since = 0, time.monotonic()
        try:
            while not self.stopping.is_set():
                try:
                    topic, payload = self.inbox.get(timeout=0.05)
                except queue.Empty:
                    if max_idle_s is not None and time.monotonic() - idle_since > max_idle_s:
                        break
                    continue
                try:
                    answered += self.handle(topic, payload)
                except Exception:
                    log.exception("access RPC request on %s failed", topic)
                    close_old_connections()
                idle_since = time.monotonic()
                if max_requests is not None and answered >= max_requests:
                    break
        finally:
            for info in self.pending:  # let the last answers reach the broker before leaving
                if self.connected.is_set():
                    info.wait_for_publish(2)
            self.client.disconnect()
            self.client.loop_stop()
        return answered
