"""python -m bench [--quick] — every Linli benchmark, one JSON document on stdout.

(a) point → grid lookup with 10,000 grids (bench.point_lookup, in memory; goal p99 < 1 ms);
(b) person list and exact-ID search on 1,000,000 persons in PostgreSQL through the real API
    (bench.people; goal p95 ≤ 50 ms, constant query count). The database comes from DATABASE_URL or
    postgres://postgres@127.0.0.1:5432/linli_bench; it is created, migrated and loaded with
    ``demo --persons N`` when empty. Results are also written to bench/results/.
(c) access decisions with 100,000 residents and 500 gates (bench.access, in memory; goal ≥3,000/s,
    p99 ≤ 10 ms).
(d) knowledge search: recall@1/@5, MRR and latency of ≥100 colloquial questions on SQLite FTS5 and
    PostgreSQL (bench.knowledge; own small databases, ≈25 s once migrated).
Named only: ``--only ingest`` (MQTT → PostgreSQL, needs Mosquitto) and ``--only cases``
    (intake and SLA sweep over 1M cases; its own database), ``--only parking`` (plate entry/exit decisions:
    index alone, full service on a throw-away database, per-call ORM comparison; bench.parking),
    ``--only rollups`` (D6 telemetry rollups on PostgreSQL: full rebuild, one incremental run, chart reads
    from rollups vs raw GROUP BY; own database; bench.rollups).
``--quick`` runs a small version of each (1,000 grids; 20,000 persons in linli_bench_quick).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small, fast run")
    ap.add_argument("--persons", type=int, help="persons in the PostgreSQL registry (default 1,000,000; quick 20,000)")
    ap.add_argument("--requests", type=int, help="requests per scenario (default 200; quick 50)")
    ap.add_argument("--reload", action="store_true", help="drop and reload the bench database")
    ap.add_argument("--only", choices=["point_lookup", "people", "access", "knowledge", "ingest", "cases", "parking", "rollups"],
                    help="run one benchmark (ingest and cases run only when named: they need Mosquitto / a 1M-case load)")
    args = ap.parse_args(argv)
    persons = args.persons or (20_000 if args.quick else 1_000_000)
    requests = args.requests or (50 if args.quick else 200)
    sys.path.insert(0, str(ROOT))

    from bench import people

    url = people.database_url(args.quick)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
    os.environ["LINLI_DEBUG"] = "0"  # production settings: no query log, no debug pages
    os.environ.setdefault("LINLI_ALLOW_DEV_KEYS", "1")
    report: dict = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }

    if args.only in (None, "point_lookup"):
        if importlib.util.find_spec("bench.point_lookup"):
            from bench import point_lookup

            t0 = time.perf_counter()
            report["point_lookup"] = point_lookup.run(n_grids=1000, n_queries=2000) if args.quick else point_lookup.run()
            report["point_lookup"]["wall_seconds"] = round(time.perf_counter() - t0, 1)
        else:
            report["point_lookup"] = {"skipped": "bench/point_lookup.py not present"}

    if args.only in (None, "people"):
        if args.reload:
            people.drop_database(url)
        people.ensure_database(url)
        import django

        django.setup()
        from django.db import connection

        section: dict = {"database": url.split("@")[-1], "goal": "p95 <= 50 ms, constant query count"}
        section["load"] = people.load(persons)
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            section["postgres"] = cur.fetchone()[0]
        section["scenarios"] = people.run(requests=requests)
        report["people"] = section

    if args.only in (None, "access"):
        from bench import access

        t0 = time.perf_counter()
        report["access"] = access.run(residents=10_000, gates=50, decisions=5_000) if args.quick else access.run()
        report["access"]["wall_seconds"] = round(time.perf_counter() - t0, 1)

    if args.only in (None, "knowledge"):
        from bench import knowledge

        report["knowledge"] = knowledge.run(pg_url=url)

    if args.only == "ingest":
        from bench import ingest

        report["ingest"] = ingest.run() if args.quick else ingest.run(full=True)

    if args.only == "parking":
        from bench import parking

        t0 = time.perf_counter()
        report["parking"] = parking.run(passes=20_000, decisions=10_000, service_passes=2_000, service_decisions=500) if args.quick else parking.run()
        report["parking"]["wall_seconds"] = round(time.perf_counter() - t0, 1)

    if args.only == "rollups":
        from bench import rollups

        report["rollups"] = rollups.run(devices=100, minutes=3 * 1440, reads=30, quick=True) if args.quick else rollups.run()

    if args.only == "cases":
        from bench import cases

        return cases.main(["--cases", "20000", "--requests", "50"] if args.quick else [])

    text = json.dumps(report, ensure_ascii=False, indent=2)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (out_dir / f"bench-{stamp}{'-quick' if args.quick else ''}.json").write_text(text)
    (out_dir / "latest.json").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
