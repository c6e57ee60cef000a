"""``manage.py iot_rpc [--url mqtt://user:pass@host:1883]``: device command responses and timeouts (D5)."""

from __future__ import annotations

import logging
import os
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from linli.iot.rpc import RpcWorker


class Command(BaseCommand):
    help = "Subscribe to device RPC responses (QoS 1, acknowledge after commit) and time out unanswered commands"

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.LINLI_MQTT_URL or "mqtt://127.0.0.1:1883")
        parser.add_argument("--client-id", default=os.environ.get("LINLI_RPC_CLIENT_ID", "linli-rpc-1"))
        parser.add_argument("--sweep-s", type=float, default=5.0)
        parser.add_argument("--exit-when-idle", type=float, default=None)

    def handle(self, *args, **opts):
        logging.getLogger("linli.iot").setLevel(logging.INFO)
        worker = RpcWorker(opts["url"], client_id=opts["client_id"], sweep_s=opts["sweep_s"])
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: worker.stop())
        self.stdout.write(f"{worker.run(max_idle_s=opts['exit_when_idle'])} responses handled")
