"""Knowledge-base search quality and latency (L2): ``python -m bench --only knowledge``.

A set of colloquial questions (bench/knowledge_queries.json, each with the acceptable article slugs)
is searched through ``linli.knowledge.selectors.article_search`` on the starter articles; reports
recall@1, recall@5, MRR and per-search latency (p50/p95, query segmentation included).
SQLite (FTS5) always, in a scratch database under var/; PostgreSQL (tsvector) when DATABASE_URL is
postgres://… and the server answers. Each engine runs in its own process (its own Django setup).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
QUERIES = Path(__file__).with_name("knowledge_queries.json")
SQLITE_URL = f"sqlite:///{ROOT / 'var' / 'bench_knowledge.sqlite3'}"


def _measure(repeat: int = 3) -> dict:
    """Runs inside a configured Django process: migrate, then time every question ``repeat`` times."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from linli.knowledge import search, selectors, starter
    from linli.knowledge.models import Article, ArticleVersion, Category
    from linli.orgs.models import Account

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    starter.load_starter(Category, Article, ArticleVersion)
    search.reindex_all()  # the dictionary or synonym table may have changed since the last run
    setup_s = time.perf_counter() - t0
    actor, _ = Account.objects.get_or_create(username="bench-knowledge", defaults={"is_superuser": True, "kind": "staff"})
    queries = json.loads(QUERIES.read_text())
    slug_of = dict(Article.objects.values_list("pk", "slug"))
    selectors.article_search(actor=actor, q="预热", limit=5)  # jieba dictionary load
    latencies: list[float] = []
    hits1 = hits5 = 0
    rr = 0.0
    misses = []
    for item in queries:
        for _ in range(repeat):
            t = time.perf_counter()
            rows = selectors.article_search(actor=actor, q=item["q"], limit=5)
            latencies.append((time.perf_counter() - t) * 1000)
        got = [slug_of[a.pk] for a in rows]
        rank = next((i + 1 for i, s in enumerate(got) if s in item["expected"]), None)
        hits1 += rank == 1
        hits5 += rank is not None
        rr += 1 / rank if rank else 0.0
        if rank != 1:
            misses.append({"q": item["q"], "expected": item["expected"], "got": got[:3]})
    latencies.sort()
    n = len(queries)
    return {
        "engine": connection.vendor, "articles": Article.objects.filter(status="published").count(), "queries": n,
        "recall_at_1": round(hits1 / n, 3), "recall_at_5": round(hits5 / n, 3), "mrr": round(rr / n, 3),
        "latency_ms": {"p50": round(statistics.median(latencies), 2), "p95": round(latencies[int(len(latencies) * 0.95) - 1], 2),
                       "max": round(latencies[-1], 2), "searches": len(latencies)},
        "setup_seconds": round(setup_s, 1), "not_first": misses,
    }


def _pg_up(url: str) -> bool:
    p = urlparse(url)
    try:
        socket.create_connection((p.hostname or "127.0.0.1", p.port or 5432), timeout=0.5).close()
        return True
    except OSError:
        return False


def _child(url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "linli.settings", "LINLI_DEBUG": "0"}
    env.setdefault("LINLI_ALLOW_DEV_KEYS", "1")
    out = subprocess.run([sys.executable, "-m", "bench.knowledge", "--child"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(pg_url: str | None = None) -> dict:
    t0 = time.perf_counter()
    (ROOT / "var").mkdir(exist_ok=True)
    report: dict = {"goal": "colloquial questions find the right article (recall@5); per-search latency",
                    "sqlite": _child(SQLITE_URL)}
    pg_url = pg_url or os.environ.get("DATABASE_URL", "")
    if pg_url.startswith(("postgres://", "postgresql://")) and _pg_up(pg_url):
        from bench.people import ensure_database

        own = urlparse(pg_url)._replace(path="/linli_bench_knowledge").geturl()  # a small database of its own
        ensure_database(own)
        report["postgresql"] = _child(own)
    report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return report


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if "--child" in sys.argv:
        print(json.dumps(_measure(), ensure_ascii=False))
    else:
        print(json.dumps(run(), ensure_ascii=False, indent=2))
