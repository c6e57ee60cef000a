"""``manage.py access_rpc [--url mqtt://linli-access:PASSWORD@host:1883]``: answer gate decisions over MQTT (A3).

Run one or more next to the web processes (shared subscription). The broker needs a service account
that may read ``linli/v1/+/rpc/request/#`` and write ``linli/v1/+/rpc/response/#``; each gate
controller logs in with its gate code as MQTT username."""

from __future__ import annotations

import logging
import os
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from linli.access.mqtt_rpc import AccessRpcResponder
from linli.core.runtime import freeze_startup_objects


class Command(BaseCommand):
    help = "Answer access.decide requests of gate controllers on MQTT (QoS 1) from the in-memory decision index"

    def add_arguments(self, parser):
        parser.add_argument("--url", default=getattr(settings, "LINLI_MQTT_URL", "") or "mqtt://127.0.0.1:1883")
        parser.add_argument("--client-id", default=os.environ.get("LINLI_ACCESS_RPC_CLIENT_ID", "linli-access-rpc-1"))
        parser.add_argument("--exit-when-idle", type=float, default=None)

    def handle(self, *args, **opts):
        logging.getLogger("linli.access").setLevel(logging.INFO)
        responder = AccessRpcResponder(opts["url"], client_id=opts["client_id"])
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: responder.stop())
        freeze_startup_objects()  # no full collection walks Django's import-time objects mid-decision
        self.stdout.write(f"{responder.run(max_idle_s=opts['exit_when_idle'])} decisions answered")
