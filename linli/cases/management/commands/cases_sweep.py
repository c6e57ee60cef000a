"""`manage.py cases_sweep` — run the SLA sweep once by hand, or enqueue it (``manage.py scheduler``
enqueues it every minute)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from linli.core import context


class Command(BaseCommand):
    help = "超时预警与升级：80% 预警，超时升级街道，2 倍时限升级区县（幂等）"

    def add_arguments(self, parser):
        from linli.cases.sla import BATCH

        parser.add_argument("--batch", type=int, default=BATCH, help="cases per transaction")
        parser.add_argument("--enqueue", action="store_true", help="enqueue the sweep_overdue task instead of running it here")

    def handle(self, *args, batch: int, enqueue: bool, **options):
        if enqueue:
            from linli.cases.tasks import sweep_overdue

            result = sweep_overdue.enqueue()
            self.stdout.write(f"enqueued {result.id}")
            return
        from linli.cases.sla import sweep

        token = context.set_current(context.RequestContext(channel="cli"))
        try:
            counts = sweep(batch=batch)
        finally:
            context.reset(token)
        self.stdout.write(json.dumps(counts))
