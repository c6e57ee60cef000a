"""manage.py demo [--if-empty] [--persons N] [--seed S] — load the demo district (see linli.core.demo)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from linli.core import demo


class Command(BaseCommand):
    help = "Build a believable demo district around Jinan (regions, houses, persons, accounts)."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="do nothing (but print the logins) when data exists")
        parser.add_argument("--persons", type=int, default=8000, help="number of persons (default 8000; 1000000 for benchmarks)")
        parser.add_argument("--seed", type=int, default=2026, help="random seed (same seed, same data)")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print counts and timings as JSON at the end")

    def handle(self, *args, if_empty: bool, persons: int, seed: int, as_json: bool, verbosity: int, **kw):
        if persons < 1:
            raise CommandError("--persons must be at least 1")
        if demo.has_data():
            if if_empty:
                self.stdout.write("Data already present: demo not loaded again. 已有数据，跳过演示数据。")
                self.stdout.write(demo.format_logins())
                return
            raise CommandError("The database already has places data; demo loads only into an empty database "
                               "(use --if-empty to skip, or a fresh DATABASE_URL).")
        log = self.stdout.write if verbosity >= 1 else (lambda _msg: None)
        log(f"Building the demo district: {persons:,} persons, seed {seed} …")
        stats = demo.build(persons=persons, seed=seed, log=log)
        c = stats.counts
        log(f"Done in {stats.timings['total_s']}s: {c['regions']} regions ({c['grids']} grids), {c['estates']} estates, "
            f"{c['buildings']} buildings, {c['houses']:,} houses, {c['persons']:,} persons, {c['households']:,} households, "
            f"{c['residencies']:,} residencies, {c['special_group_tags']:,} special-group tags, {c['facilities']} facilities, "
            f"{c['organisations']} organisations.")
        if as_json:
            self.stdout.write(_json(stats))
        self.stdout.write(demo.format_logins())


def _json(stats) -> str:
    return json.dumps({"counts": stats.counts, "timings": stats.timings}, ensure_ascii=False)
