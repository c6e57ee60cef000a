"""manage.py scheduler [--once] [--list] — enqueue the periodic tasks declared in
``linli/<app>/schedules.py`` on their intervals (see ``linli.core.schedule``).

Safe to run in several processes and to restart at any time: each (task, time slot) is enqueued
once, enforced by a unique key in the database. ``manage.py serve`` starts one as a child process.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from linli.core import schedule


class Command(BaseCommand):
    help = "Enqueue periodic tasks (linli/<app>/schedules.py) on their intervals; idempotent across processes."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="claim the current slot of every schedule once and exit")
        parser.add_argument("--list", action="store_true", help="print the discovered schedules and exit")

    def handle(self, *args, once: bool, list: bool, **kw):  # noqa: A002 - option name
        try:
            schedules = schedule.discover()
        except schedule.ScheduleError as exc:
            raise CommandError(f"invalid schedule: {exc}") from exc
        if list:
            for s in schedules:
                self.stdout.write(f"{s.name}\tevery {s.every}s\t{s.path}")
            return
        if once:
            done = schedule.tick(schedules)
            self.stdout.write(f"enqueued: {', '.join(done) or '(nothing due)'}")
            return
        stop = threading.Event()

        def _stop(signum=None, _frame=None) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _stop)
        self.stdout.write(f"scheduler: {len(schedules)} schedules ({', '.join(s.name for s in schedules)})")
        self.stdout.flush()
        schedule.run(schedules, stop=stop)
        self.stdout.write("scheduler stopped")
