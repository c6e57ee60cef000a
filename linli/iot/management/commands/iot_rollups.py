"""manage.py iot_rollups [--rebuild-from ISO] [--retention] — run the history rollups now (D6).

Without options: one incremental run from the watermark (what the periodic task does). With
``--rebuild-from``: re-aggregate every level from that instant (after a backfill older than the late
grace). ``--retention``: also enforce the retention policy. Prints JSON."""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from linli.iot import rollups


class Command(BaseCommand):
    help = "Run telemetry rollups (5 min / 1 h / 1 d) now; optionally rebuild from a date or enforce retention."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild-from", help="ISO date/time (with time zone) to re-aggregate from")
        parser.add_argument("--retention", action="store_true", help="also enforce the retention policy")

    def handle(self, *args, rebuild_from: str | None, retention: bool, **kw):
        if rebuild_from:
            try:
                start = dt.datetime.fromisoformat(rebuild_from)
            except ValueError as exc:
                raise CommandError(f"--rebuild-from: {exc}") from None
            if start.tzinfo is None:
                raise CommandError("--rebuild-from needs a time zone, e.g. 2026-11-01T00:00:00+08:00")
            out = rollups.rollup_rebuild(start=start).as_dict()
        else:
            out = rollups.rollup_run().as_dict()
        if retention:
            out["retention"] = rollups.retention_run()
        self.stdout.write(json.dumps(out, ensure_ascii=False, default=str))
