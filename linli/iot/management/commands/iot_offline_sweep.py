"""``manage.py iot_offline_sweep [--loop --interval 60]``: offline alarms, elapsed durations, partitions."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from linli.iot.services import offline_sweep


class Command(BaseCommand):
    help = "Raise offline / no-data alarms and alarms whose minimum duration has passed; create telemetry partitions"

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=60.0)

    def handle(self, *args, **opts):
        while True:
            self.stdout.write(str(offline_sweep()))
            if not opts["loop"]:
                return
            time.sleep(opts["interval"])
