"""Person list and exact-ID search on a large PostgreSQL registry, through the real API (H1, O2).

Requests go through Django's test Client in process (full middleware, token auth, ninja, scoping,
pagination, masking) — no network. For each scenario: p50/p95/p99 over N requests, the number of
SQL queries per request (must be constant), and the comparison point: the same main SQL statement
run directly with psycopg (what the database alone costs).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from urllib.parse import urlparse

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/linli_bench"


def ensure_database(url: str) -> None:
    """CREATE DATABASE if it does not exist (connects to the maintenance database 'postgres')."""
    import psycopg

    p = urlparse(url)
    name = p.path.lstrip("/")
    admin = p._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    p = urlparse(url)
    admin = p._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{p.path.lstrip("/")}" WITH (FORCE)')


def _pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return round(s[min(len(s) - 1, int(q * len(s)))] * 1000, 3)


def _summary(samples: list[float]) -> dict:
    return {"p50_ms": _pct(samples, 0.50), "p95_ms": _pct(samples, 0.95), "p99_ms": _pct(samples, 0.99),
            "mean_ms": round(statistics.fmean(samples) * 1000, 3), "requests": len(samples)}


def load(persons: int, seed: int = 2026) -> dict:
    """Make sure the database holds exactly the demo with ``persons`` persons; load it if not."""
    from django.core.management import call_command
    from django.db import connections

    from linli.people.models import Person

    call_command("migrate", verbosity=0)
    have = Person.objects.count()
    if have == persons:
        with connections["default"].cursor() as cur:  # fresh planner statistics, whoever loaded the data
            cur.execute("ANALYZE")
        return {"loaded_now": False, "persons": have}
    if have:
        raise SystemExit(f"The bench database holds {have:,} persons, not {persons:,}: drop it or use --reload.")
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    call_command("demo", persons=persons, seed=seed, verbosity=1, stdout=sys.stderr)  # stdout is the JSON
    out = {"loaded_now": True, "persons": persons, "load_seconds": round(time.perf_counter() - t0, 1),
           "load_cpu_seconds": round(time.process_time() - cpu0, 1)}
    with connections["default"].cursor() as cur:
        cur.execute("ANALYZE")
    return out


def run(*, requests: int = 200, seed: int = 1) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from linli.core.pagination import encode_cursor
    from linli.orgs.models import Account, ApiToken, hash_token
    from linli.people.models import Person

    rng = random.Random(seed)
    dsn = connection.get_connection_params()
    import psycopg

    raw = psycopg.connect(**{k: v for k, v in dsn.items() if k in ("dbname", "user", "password", "host", "port")}, autocommit=True)

    def token(acc) -> str:
        value = ApiToken.generate()
        ApiToken.objects.create(account=acc, name="bench", prefix=value[:10], key_hash=hash_token(value))
        return value

    results: dict = {}
    for label, username in (("community_worker", "community"), ("district_admin", "admin")):
        acc = Account.objects.get(username=username)
        headers = {"Authorization": f"Bearer {token(acc)}"}
        client = Client()
        scoped = Person.objects.for_actor(acc, "person.view")
        total = scoped.count()
        ids = list(scoped.order_by("-id").values_list("id", flat=True)[: min(total, 20000)])
        deep_ids = ids[len(ids) // 2:]
        sample_ids = rng.sample(ids, min(len(ids), requests))
        id_numbers = list(Person.objects.filter(id__in=sample_ids).values_list("id_number", flat=True))
        cases = {
            "list_first_page": lambda _i: ("/api/v1/people/persons", {"limit": 50}),
            "list_deep_page": lambda i, deep_ids=deep_ids: ("/api/v1/people/persons", {"limit": 50, "cursor": encode_cursor([deep_ids[i % len(deep_ids)]])}),
            "exact_id_search": lambda i, id_numbers=id_numbers: ("/api/v1/people/persons", {"id_number": id_numbers[i % len(id_numbers)]}),
        }
        out = {"persons_in_scope": total}
        for name, make in cases.items():
            counts, main_sql = [], None
            for i in range(5):  # warm-up + query counts (the capture itself slows requests: not timed)
                path, params = make(i)
                with CaptureQueriesContext(connection) as ctx:
                    resp = client.get(path, params, headers=headers)
                assert resp.status_code == 200, (name, resp.status_code, resp.content[:300])
                counts.append(len(ctx.captured_queries))
                person_sql = [q["sql"] for q in ctx.captured_queries if 'FROM "people_person"' in q["sql"]]
                main_sql = person_sql[-1] if person_sql else main_sql
            samples = []
            for i in range(requests):
                path, params = make(i)
                t0 = time.perf_counter()
                resp = client.get(path, params, headers=headers)
                samples.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    raise RuntimeError(f"{name}: HTTP {resp.status_code} {resp.content[:200]!r}")
            item = _summary(samples)
            item["queries_per_request"] = sorted(set(counts[1:]))  # after the first (warm-up) request
            item["items_last_page"] = len(resp.json()["items"])
            if main_sql:
                raw_samples = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    raw.execute(main_sql).fetchall()
                    raw_samples.append(time.perf_counter() - t0)
                item["raw_sql"] = _summary(raw_samples)
                item["raw_sql_statement"] = main_sql[:400]
            out[name] = item
        results[label] = out
    raw.close()
    return results


def database_url(quick: bool) -> str:
    return os.environ.get("DATABASE_URL") or (DEFAULT_URL + "_quick" if quick else DEFAULT_URL)
