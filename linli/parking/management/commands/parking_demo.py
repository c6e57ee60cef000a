"""manage.py parking_demo [--seed S] — parking lots, passes and today's traffic on top of `manage.py demo`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Load parking demo data (lots, zones, spaces, passes, vehicles, today's entries/exits and alarms)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, seed: int, **kw):
        from linli.parking import demo

        try:
            demo.build(seed=seed, log=self.stdout.write)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
