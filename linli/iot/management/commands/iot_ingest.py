"""Run the MQTT ingest worker: ``manage.py iot_ingest [--url mqtt://user:pass@host:1883] [--shared]``."""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.core.management.base import BaseCommand

from linli.core.runtime import freeze_startup_objects
from linli.iot.ingest import rule_book
from linli.iot.mqtt import IngestWorker


class Command(BaseCommand):
    help = "MQTT → database ingest worker (QoS 1, persistent session, acknowledge after commit)"

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.LINLI_MQTT_URL or "mqtt://127.0.0.1:1883")
        parser.add_argument("--client-id", default=os.environ.get("LINLI_MQTT_CLIENT_ID", "linli-ingest-1"))
        parser.add_argument("--batch-size", type=int, default=5000, help="most messages committed in one transaction")
        parser.add_argument("--batch-ms", type=int, default=0, help="extra wait for a batch to fill (0: take what has arrived)")
        parser.add_argument("--shared", action="store_true", help="subscribe via $share/linli-ingest/ (several workers)")
        parser.add_argument("--exit-when-idle", type=float, default=None, help="stop after this many seconds without messages")

    def handle(self, *args, **opts):
        logging.getLogger("linli.iot").setLevel(logging.INFO)
        worker = IngestWorker(opts["url"], client_id=opts["client_id"], batch_size=opts["batch_size"], batch_ms=opts["batch_ms"],
                              shared=opts["shared"])
        worker.install_signal_handlers()
        rule_book()  # loaded before the freeze: it lives as long as the process
        freeze_startup_objects()
        totals = worker.run(max_idle_s=opts["exit_when_idle"])
        self.stdout.write(str(totals.as_dict()))
