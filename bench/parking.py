"""K2 benchmark: plate entry decisions (goal p99 ≤ 10 ms server side).

(a) ``index``: the pre-decision (lot, flags, passes) from the in-process index alone, with ``passes``
    passes over ``lots`` lots and ``flags`` flagged plates built in memory — what every camera read costs
    before the database is touched.
(b) ``service``: the full ``plate_entry`` / ``plate_exit`` (index + the session INSERT and the decision-log
    INSERT in one transaction; a lock only for passes shared by more cars than may be inside; alarms)
    on a throw-away database of the configured engine (``DATABASE_URL``; SQLite in memory when unset),
    one call at a time, DEBUG off. ``http_entry``: the same through POST /api/v1/parking/device/entry
    (lot token, middleware, ninja) in process — the server-side end-to-end figure. ``statements`` lists
    the SQL of one visitor entry and one pass entry (must stay two INSERTs).
(c) comparison point ``orm_pre``: the same pre-decision done per call with ORM queries (lot + rule,
    flags by plate, the lot's valid passes filtered in Python) on that database — no index.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time

PROV = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"


def _django() -> None:
    from django.apps import apps

    if not apps.ready:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
        django.setup()


def _plate(n: int) -> str:
    return f"{PROV[n // 100_000 % len(PROV)]}A{n % 100_000:05d}"


def _summary(lat: list[float], wall: float) -> dict:
    s = sorted(lat)
    pct = lambda p: round(s[min(len(s) - 1, int(len(s) * p))] * 1000, 3)  # noqa: E731
    return {"n": len(s), "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "max_ms": round(s[-1] * 1000, 3),
            "mean_ms": round(statistics.fmean(s) * 1000, 3), "per_second": round(len(s) / wall) if wall else None}


def _index_only(lots: int, passes: int, flags: int, decisions: int, seed: int) -> dict:
    from linli.parking import decision
    from linli.parking.billing import Terms

    rnd = random.Random(seed)
    idx = decision.ParkingIndex()
    terms = Terms(daily_cap_fen=3000)
    for i in range(1, lots + 1):
        idx.lots[i] = decision.LotRow(i, f"L{i}", i, f"0001{i:04d}", True, terms, "visitor", 900)
    now = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC).timestamp()
    for n in range(passes):
        row = decision.PassRow(n + 1, rnd.randint(1, lots), n, (_plate(n),), now - 86400, now + 86400 * 30, 1, None, None)
        idx.passes_by_id[row.id] = row
        idx.passes.setdefault(row.plates[0], []).append(row)
    for n in range(flags):
        p = _plate(passes + n)
        row = decision.FlagRow(n + 1, p, "0001", rnd.choice(["stolen", "blocked", "watch"]), "bench")
        idx.flags_by_id[row.id] = row
        idx.flags.setdefault(p, []).append(row)
    at = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    calls = _mix(rnd, decisions, {n: idx.passes_by_id[n + 1].lot_id for n in range(passes)}, list(idx.lots), passes, flags)
    lat, reasons = [], {}
    t0 = time.perf_counter()
    for lot_id, plate in calls:
        s = time.perf_counter()
        d = idx.pre_entry(lot_id=lot_id, plate=plate, at=at)
        lat.append(time.perf_counter() - s)
        reasons[d.reason] = reasons.get(d.reason, 0) + 1
    out = _summary(lat, time.perf_counter() - t0)
    out.update({"lots": lots, "passes": passes, "flags": flags, "reasons": reasons})
    return out


def _mix(rnd: random.Random, n: int, pass_lot: dict[int, int], lot_ids: list[int], passes: int, flags: int) -> list[tuple[int, str]]:
    """60 % pass holders at their own lot, 5 % flagged plates, 35 % visitors; distinct plates."""
    out, used = [], set()
    while len(out) < n:
        r = rnd.random()
        k = rnd.randrange(passes) if r < 0.6 else (passes + rnd.randrange(flags) if r < 0.65 else passes + flags + rnd.randrange(10 * n))
        if k in used:
            continue
        used.add(k)
        out.append((pass_lot.get(k) or rnd.choice(lot_ids), _plate(k)))
    return out


def _load(lots: int, passes: int, flags: int, seed: int) -> tuple[list[int], dict[int, int]]:
    from linli.orgs.models import hash_token
    from linli.parking.models import BillingRule, ParkingLot, ParkingPass, PlateFlag
    from linli.people.models import Person
    from linli.places.models import Estate, Level, Region

    rnd = random.Random(seed)
    root = Region.objects.add_root({"level": Level.COMMUNITY, "code": "BENCHPK", "name": "停车基准社区"})
    est = Estate.objects.create(region=root, code="BENCHPK", name="基准小区", address="-")
    rule = BillingRule.objects.create(region=root, name="基准", daily_cap_fen=3000, night_start_minute=1320, night_end_minute=420, night_fen=300)
    lot_objs = ParkingLot.objects.bulk_create([ParkingLot(code=f"BL{i}", name=f"L{i}", estate=est, region=root, capacity=500, rule=rule,
                                                          token_hash=hash_token(f"pk_bench{i}"), token_prefix="bench") for i in range(lots)])
    person = Person.objects.create(name="基准", region=root, id_number="", id_number_index="bench", id_number_tail="0000", gender="M",
                                   birth_date=dt.date(1980, 1, 1))
    vf, vu = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    pass_lot = {n: rnd.choice(lot_objs).pk for n in range(passes)}
    ParkingPass.objects.bulk_create([ParkingPass(lot_id=pass_lot[n], person=person, kind="monthly", plates=[_plate(n)], valid_from=vf,
                                                 valid_until=vu) for n in range(passes)], batch_size=2000)
    PlateFlag.objects.bulk_create([PlateFlag(region=root, plate=_plate(passes + n), kind=rnd.choice(["stolen", "blocked", "watch"]),
                                             reason="bench") for n in range(flags)], batch_size=2000)
    return [lot.pk for lot in lot_objs], pass_lot


def _orm_pre(lot_id: int, plate: str, at: dt.datetime) -> str:
    from linli.parking import plates
    from linli.parking.models import ParkingLot, ParkingPass, PlateFlag

    lot = ParkingLot.objects.select_related("region", "rule").get(pk=lot_id)
    if not plates.is_valid(plate):
        return "plate_invalid"
    for path, kind in PlateFlag.objects.filter(plate=plate, is_active=True).values_list("region__path", "kind"):
        if lot.region.path.startswith(path) and kind != "watch":
            return f"plate_{kind}"
    for ps in ParkingPass.objects.filter(lot_id=lot_id, status="active", valid_from__lte=at, valid_until__gt=at).values_list("plates", flat=True):
        if plate in ps:
            return "pass"
    return "visitor"


def _timed(calls: list[tuple[int, str]], fn) -> dict:
    lat, reasons = [], {}
    t0 = time.perf_counter()
    for lot_id, plate in calls:
        s = time.perf_counter()
        d = fn(lot_id, plate)
        lat.append(time.perf_counter() - s)
        reasons[d] = reasons.get(d, 0) + 1
    return {**_summary(lat, time.perf_counter() - t0), "reasons": reasons}


def _statements(fn) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return [" ".join(q["sql"].split()[:3]) for q in ctx.captured_queries]


def _service(lots: int, passes: int, flags: int, decisions: int, seed: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    from linli.parking import decision, services

    engine = connection.vendor
    if engine == "postgresql":
        connection.settings_dict.setdefault("TEST", {})["NAME"] = "linli_bench_parking"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        with override_settings(DEBUG=False, LINLI_PARKING_CHECK_MS=200):
            t0 = time.perf_counter()
            lot_ids, pass_lot = _load(lots, passes, flags, seed)
            load_s = time.perf_counter() - t0
            if engine == "postgresql":
                with connection.cursor() as cur:
                    cur.execute("ANALYZE")
            decision.invalidate()
            decision.get_index()
            rnd = random.Random(seed + 1)
            at = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
            calls = _mix(rnd, 3 * decisions + 80, pass_lot, lot_ids, passes, flags)
            warm, svc_calls, http_calls, async_calls = (calls[:40], calls[40:40 + decisions], calls[40 + decisions:40 + 2 * decisions],
                                                        calls[40 + 2 * decisions:40 + 3 * decisions])
            for lot_id, plate in warm:  # connection, statement caches
                services.plate_entry(lot=lot_id, plate=plate, at=at)
            res: dict = {"engine": engine, "load_seconds": round(load_s, 1)}
            res["entry"] = _timed(svc_calls, lambda lot_id, plate: services.plate_entry(lot=lot_id, plate=plate, at=at).reason)
            res["exit"] = _timed(svc_calls, lambda lot_id, plate: services.plate_exit(lot=lot_id, plate=plate,
                                                                                       at=at + dt.timedelta(hours=3)).reason)
            if engine == "postgresql":  # the opt-in LINLI_PARKING_ASYNC_COMMIT: COMMIT without waiting for the WAL flush
                with override_settings(LINLI_PARKING_ASYNC_COMMIT=True):
                    res["entry_async_commit"] = _timed(async_calls, lambda lot_id, plate: services.plate_entry(
                        lot=lot_id, plate=plate, at=at).reason)
            client = Client()
            tokens = {lid: f"pk_bench{i}" for i, lid in enumerate(lot_ids)}

            def http(lot_id: int, plate: str) -> str:
                r = client.post("/api/v1/parking/device/entry", data={"plate": plate, "at": at.isoformat()}, content_type="application/json",
                                headers={"Authorization": f"Bearer {tokens[lot_id]}"})
                return r.json()["reason"] if r.status_code == 200 else f"http_{r.status_code}"

            for lot_id, plate in warm[:10]:  # URL resolver, ninja, middleware
                http(lot_id, plate)
            res["http_entry"] = _timed(http_calls, http)
            visitor = next((c for c in calls[40 + 3 * decisions:] if c[1] not in {_plate(n) for n in range(passes + flags)}), None)
            single = next(((pass_lot[n], _plate(n)) for n in range(passes) if _plate(n) not in {p for _l, p in calls}), None)
            res["statements"] = {
                "visitor_entry": _statements(lambda: services.plate_entry(lot=visitor[0], plate=visitor[1], at=at)) if visitor else [],
                "pass_entry": _statements(lambda: services.plate_entry(lot=single[0], plate=single[1], at=at)) if single else [],
            }
            lat = []
            t1 = time.perf_counter()
            for lot_id, plate in svc_calls[: max(200, decisions // 5)]:
                s = time.perf_counter()
                _orm_pre(lot_id, plate, at)
                lat.append(time.perf_counter() - s)
            res["orm_pre_comparison"] = _summary(lat, time.perf_counter() - t1)
            idx = decision.get_index()
            res["index_pre_same_data"] = _timed(svc_calls, lambda lot_id, plate: idx.pre_entry(lot_id=lot_id, plate=plate, at=at).reason)
            res["goal_met"] = res["entry"]["p99_ms"] <= 10 and res["http_entry"]["p99_ms"] <= 10
            return res
    finally:
        decision.invalidate()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(lots: int = 200, passes: int = 100_000, flags: int = 5_000, decisions: int = 50_000, service_lots: int = 20,
        service_passes: int = 5_000, service_decisions: int = 2_000, seed: int = 7) -> dict:
    _django()
    return {
        "goal": "plate entry decision p99 <= 10 ms (server side)",
        "index": _index_only(lots, passes, flags, decisions, seed),
        "service": _service(service_lots, service_passes, max(1, service_passes // 20), service_decisions, seed),
    }


if __name__ == "__main__":
    import json
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    print(json.dumps(run(), ensure_ascii=False, indent=2))
