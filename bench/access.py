"""A3 benchmark: gate decisions from the in-process index (goal ≥ 3,000/s, p99 ≤ 10 ms, 2 cores).

A synthetic city: ``residents`` persons in estates of ~2,000 residents, 10 buildings each with 2 units,
``gates`` gates spread over estate, building and unit groups (some with time windows), one card per
resident, a few QR tokens. ``decide()`` is timed call by call (server side, no HTTP) over a mix of
allowed cards, unknown cards, other-building doors and QR codes.

Revocation: a credential is revoked through the same incremental path the change log drives
(``AccessIndex._load_credentials`` semantics, here fed from memory) and the next decision is checked;
the bound on visibility in another process is the re-check interval (LINLI_ACCESS_CHECK_MS, 200 ms)
plus that apply time.

Comparison point: the same lookup done per decision as SQL against an indexed SQLite in-memory
database holding the same rows (credential → residency → group match), i.e. what a decision costs
without the index (an optimistic floor for a networked PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import statistics
import time


def _django() -> None:
    from django.apps import apps

    if not apps.ready:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
        django.setup()


def _pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))]


def build(residents: int, gates: int, seed: int = 11):
    _django()
    from linli.access import decision, tokens

    rnd = random.Random(seed)
    idx = decision.AccessIndex()
    per_estate = 2000
    estates = max(1, residents // per_estate)
    gid = 0
    groups_by_estate: dict[int, list[int]] = {}
    for e in range(estates):
        gid += 1
        idx.groups[gid] = decision.GroupRow(gid, "estate", e, None, None, f"0001{e:04d}", True)
        groups_by_estate[e] = [gid]
        for b in range(10):
            gid += 1
            windows = [(0b0011111, 420, 1140)] if b == 9 else None
            idx.groups[gid] = decision.GroupRow(gid, "building", e, e * 10 + b, None, f"0001{e:04d}", True, windows)
            groups_by_estate[e].append(gid)
            for u in range(2):
                gid += 1
                idx.groups[gid] = decision.GroupRow(gid, "unit", e, e * 10 + b, e * 20 + b * 2 + u, f"0001{e:04d}", True)
                groups_by_estate[e].append(gid)
    group_ids = list(idx.groups)
    for n in range(gates):
        g = group_ids[n % len(group_ids)] if n >= estates else groups_by_estate[n % estates][0]
        code = f"G{n:05d}"
        idx.gates[code] = decision.GateRow(n + 1, code, g, 1, True)
    since = dt.date(2020, 1, 1)
    cards: list[tuple[int, str, int, int]] = []
    epoch = dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp()
    for pid in range(1, residents + 1):
        e = rnd.randrange(estates)
        b = rnd.randrange(10)
        u = rnd.randrange(2)
        tenant = rnd.random() < 0.15
        idx.ents[pid] = [decision.Entitlement(e, e * 10 + b, e * 20 + b * 2 + u, "tenant" if tenant else "owner", since,
                                              dt.date(2030, 1, 1) if tenant else None)]
        number = f"{pid:010X}"
        key = tokens.secret_index("card", number)
        row = decision.CredRow(pid, pid, "card", key, "active", epoch, None)
        idx.creds[("card", key)] = row
        idx.creds_by_id[pid] = row
        cards.append((pid, number, e, e * 10 + b))
    return idx, cards, groups_by_estate


def _sqlite(idx, cards) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.executescript("""
        create table cred (id integer primary key, kind text, idx text, person_id int, status text, vf real, vu real);
        create unique index cred_idx on cred(kind, idx);
        create table res (person_id int, estate_id int, building_id int, unit_id int, relation text, until text);
        create index res_person on res(person_id);
        create table grp (id integer primary key, level text, estate_id int, building_id int, unit_id int, active int);
        create table gate (code text primary key, group_id int, active int);
    """)
    db.executemany("insert into cred values (?,?,?,?,?,?,?)",
                   [(c.id, c.kind, c.key, c.person_id, c.status, c.valid_from, c.valid_until) for c in idx.creds.values()])
    db.executemany("insert into res values (?,?,?,?,?,?)",
                   [(pid, e.estate_id, e.building_id, e.unit_id, e.relation, e.until.isoformat() if e.until else None)
                    for pid, ents in idx.ents.items() for e in ents])
    db.executemany("insert into grp values (?,?,?,?,?,1)", [(g.id, g.level, g.estate_id, g.building_id, g.unit_id) for g in idx.groups.values()])
    db.executemany("insert into gate values (?,?,1)", [(g.code, g.group_id) for g in idx.gates.values()])
    db.commit()
    return db


SQL = """
select c.person_id, c.status from gate t join grp g on g.id = t.group_id
join cred c on c.kind = ? and c.idx = ?
join res r on r.person_id = c.person_id and (
  (g.level = 'estate' and r.estate_id = g.estate_id) or (g.level = 'building' and r.building_id = g.building_id)
  or (g.level = 'unit' and r.unit_id = g.unit_id))
where t.code = ? and t.active = 1 and g.active = 1 and (r.until is null or r.until >= ?) limit 1
"""


def run(residents: int = 100_000, gates: int = 500, decisions: int = 30_000, seed: int = 11) -> dict:
    _django()
    from linli.access import tokens

    t0 = time.perf_counter()
    idx, cards, groups_by_estate = build(residents, gates, seed)
    build_s = time.perf_counter() - t0
    rnd = random.Random(seed + 1)
    gates_by_group: dict[int, list[str]] = {}
    for code, g in idx.gates.items():
        gates_by_group.setdefault(g.group_id, []).append(code)
    estate_gate = {e: gates_by_group[gs[0]][0] for e, gs in groups_by_estate.items() if gs[0] in gates_by_group}
    any_gate = list(idx.gates)
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    qr_tokens = [tokens.qr_sign(type="r", id=pid, person_id=pid, group_ids=None, expires=int(now.timestamp()) + 60) for pid in range(1, 50)]
    for pid in range(1, 50):  # QR entitlements for a few people
        idx.creds_by_id[pid] = idx.creds_by_id[pid].__class__(pid, pid, "qr", "", "active", 0.0, None)
    calls = []
    for _ in range(decisions):
        r = rnd.random()
        pid, number, e, _b = cards[rnd.randrange(len(cards))]
        if r < 0.75:
            calls.append((estate_gate.get(e, any_gate[0]), "card", number))
        elif r < 0.85:
            calls.append((rnd.choice(any_gate), "card", number))  # mostly other estates/buildings → deny
        elif r < 0.95:
            calls.append((rnd.choice(any_gate), "card", f"{rnd.getrandbits(40):X}"))  # unknown card
        else:
            calls.append((estate_gate.get(0, any_gate[0]), "qr", rnd.choice(qr_tokens)))
    lat: list[float] = []
    allowed = 0
    decide = idx.decide
    start = time.perf_counter()
    for code, kind, value in calls:
        a = time.perf_counter()
        d = decide(gate_code=code, credential_kind=kind, credential_value=value, at=now)
        lat.append(time.perf_counter() - a)
        allowed += d.allowed
    wall = time.perf_counter() - start

    # Revocation through the incremental path, then the next decision.
    pid, number, e, _b = cards[len(cards) // 2]
    gate = estate_gate.get(e, any_gate[0])
    assert decide(gate_code=gate, credential_kind="card", credential_value=number, at=now).allowed
    a = time.perf_counter()
    old = idx.creds[("card", tokens.secret_index("card", number))]
    row = old.__class__(old.id, old.person_id, old.kind, old.key, "revoked", old.valid_from, None)
    idx.creds_by_id[pid] = row
    idx.creds[(row.kind, row.key)] = row
    after = decide(gate_code=gate, credential_kind="card", credential_value=number, at=now)
    apply_ms = (time.perf_counter() - a) * 1000
    check_ms = float(os.environ.get("LINLI_ACCESS_CHECK_MS", 200))

    # Comparison point: the same lookup as one SQL query per decision.
    db = _sqlite(idx, cards)
    sql_lat = []
    sample = [c for c in calls if c[1] == "card"][: min(3000, decisions)]
    for code, kind, value in sample:
        a = time.perf_counter()
        db.execute(SQL, (kind, tokens.secret_index(kind, value), code, "2026-03-02")).fetchone()
        sql_lat.append(time.perf_counter() - a)
    return {
        "benchmark": "access_decisions",
        "residents": residents,
        "gates": gates,
        "decisions": decisions,
        "index_build_s": round(build_s, 2),
        "decisions_per_s": round(decisions / wall),
        "p50_ms": round(statistics.median(lat) * 1000, 4),
        "p99_ms": round(_pct(lat, 0.99) * 1000, 4),
        "max_ms": round(max(lat) * 1000, 3),
        "allowed_share": round(allowed / decisions, 3),
        "revocation": {"denied_next_decision": not after.allowed, "reason": after.reason, "apply_and_decide_ms": round(apply_ms, 4),
                       "cross_process_bound_ms": round(check_ms + apply_ms, 1)},
        "goal": {"decisions_per_s": 3000, "p99_ms": 10, "revocation_ms": 1000},
        "comparison_sql_per_decision": {"engine": "sqlite3 in-memory, indexed", "samples": len(sql_lat),
                                        "per_s": round(len(sql_lat) / sum(sql_lat)), "p50_ms": round(statistics.median(sql_lat) * 1000, 4),
                                        "p99_ms": round(_pct(sql_lat, 0.99) * 1000, 4)},
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
