"""The one ingest pipeline (D2) used by HTTP and MQTT: parse → resolve devices → write in a batch →
latest values → rules → alarms, all in ONE transaction. The MQTT worker acknowledges a batch only
after ``ingest_batch`` returned (committed), so nothing is lost; a redelivered message inserts no row
(primary key (device, key, ts), ON CONFLICT DO NOTHING) and rules run only on rows that were really
inserted, so a redelivery raises no second alarm either.

Payloads (ThingsBoard-compatible JSON):
  {"temp": 21.5, "hum": 40}                              — server time
  {"ts": 1732000000000, "values": {"temp": 21.5}}        — device time, ms since the epoch
  [ ...any of the above... ]                             — a batch
  gateway: {"SERIAL-1": [{"ts": ..., "values": {...}}], "SERIAL-2": {"temp": 1}}
Readings without a timestamp get the receipt time: only device timestamps make a redelivery after a
crash an exact duplicate, so devices that need exactly-once history must send ``ts``.

A malformed message is rejected as a whole with a machine code (``payload.*`` / ``device.*``), counted,
and never raises.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import rules as rules_mod
from .models import (
    Device,
    DeviceStatus,
    IngestCounter,
    LatestValue,
    Rule,
    RuleSetVersion,
    RuleState,
    hash_secret,
)

log = logging.getLogger("linli.iot.ingest")

MAX_READINGS_PER_MESSAGE = 2000
MAX_TEXT = 2000
KEY_MAX = 64
MAX_FUTURE = dt.timedelta(days=1)
MIN_TS = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LAST_SEEN_RESOLUTION = dt.timedelta(seconds=15)
DIRECTORY_TTL = 30.0
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_US = dt.timedelta(microseconds=1)


class Rejected(Exception):
    def __init__(self, code: str, reason: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason or code


@dataclass(slots=True)
class InMessage:
    """One inbound message. ``identity`` is the device's MQTT username or access token as found in the
    topic (``linli/v1/<identity>/...``); ``by_token`` restricts the lookup to the access token (HTTP)."""

    identity: str
    kind: str  # "telemetry" | "attributes" | "gateway"
    payload: bytes | str | Any
    received_at: dt.datetime | None = None
    by_token: bool = False


@dataclass
class IngestResult:
    messages: int = 0
    stored: int = 0  # telemetry rows inserted
    duplicates: int = 0  # telemetry rows already present
    rejected: int = 0  # messages rejected as a whole
    errors: list[tuple[int, str]] = field(default_factory=list)  # (message index, code)
    alarms_raised: int = 0
    alarms_cleared: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "stored": self.stored, "duplicates": self.duplicates, "rejected": self.rejected,
                "alarms_raised": self.alarms_raised, "alarms_cleared": self.alarms_cleared}


# ---- parsing -------------------------------------------------------------------------------------
def _loads(payload: Any) -> Any:
    if isinstance(payload, bytes | bytearray | memoryview | str):
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise Rejected("payload.not_json", str(exc)) from None
    return payload


def _ts(raw: Any, now: dt.datetime) -> dt.datetime:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise Rejected("payload.bad_ts", "ts must be milliseconds since the epoch")
    ts = EPOCH + dt.timedelta(milliseconds=int(raw))
    if ts < MIN_TS or ts > now + MAX_FUTURE:
        raise Rejected("payload.ts_out_of_range", "ts is before 2000 or more than a day in the future")
    return ts


def _value(key: Any, v: Any) -> tuple[str, float | None, str | None]:
    if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX:
        raise Rejected("payload.bad_key", "keys must be strings of 1 to 64 characters")
    if isinstance(v, bool):
        return key, 1.0 if v else 0.0, None
    if isinstance(v, int | float):
        f = float(v)
        if not math.isfinite(f):
            raise Rejected("payload.bad_value", f"{key}: not a finite number")
        return key, f, None
    if isinstance(v, str):
        if len(v) > MAX_TEXT:
            raise Rejected("payload.value_too_long", f"{key}: longer than {MAX_TEXT} characters")
        return key, None, v
    if v is None:
        raise Rejected("payload.bad_value", f"{key}: null")
    text = orjson.dumps(v).decode()
    if len(text) > MAX_TEXT:
        raise Rejected("payload.value_too_long", f"{key}: longer than {MAX_TEXT} characters")
    return key, None, text


def parse_telemetry(data: Any, now: dt.datetime) -> list[tuple[dt.datetime, str, float | None, str | None]]:
    """Decoded JSON → [(ts, key, value, value_text)]; raises Rejected."""
    items = data if isinstance(data, list) else [data]
    if not items:
        raise Rejected("payload.empty", "no readings")
    out: list[tuple[dt.datetime, str, float | None, str | None]] = []
    for item in items:
        if not isinstance(item, dict) or not item:
            raise Rejected("payload.bad_shape", "expected an object of key/value pairs or {ts, values}")
        if "values" in item and set(item) <= {"ts", "values"}:
            ts = _ts(item["ts"], now) if "ts" in item else now
            values = item["values"]
            if not isinstance(values, dict) or not values:
                raise Rejected("payload.bad_shape", "values must be a non-empty object")
        else:
            ts, values = now, item
        for key, v in values.items():
            k, f, t = _value(key, v)
            out.append((ts, k, f, t))
        if len(out) > MAX_READINGS_PER_MESSAGE:
            raise Rejected("payload.too_many_readings", f"more than {MAX_READINGS_PER_MESSAGE} readings")
    return out


# ---- device directory (per-process lookup cache; the database stays the source of truth) ----------
class DeviceInfo(NamedTuple):
    """A tuple of atoms: the garbage collector stops tracking it, so a directory of 100k devices adds
    nothing to the work of a full collection."""

    id: int
    type_id: int
    region_id: int
    status: str
    is_gateway: bool
    region_path: str = ""  # for alarms: who is told, and the audit entry (no query per alarm)
    owner_org_id: int | None = None


class DeviceDirectory:
    def __init__(self, ttl: float = DIRECTORY_TTL) -> None:
        self.ttl = ttl
        self._by: dict[tuple[str, str], tuple[float, DeviceInfo | None]] = {}

    def clear(self) -> None:
        self._by.clear()

    def _get(self, kind: str, ident: str, now: float) -> tuple[bool, DeviceInfo | None]:
        hit = self._by.get((kind, ident))
        if hit is None or now - hit[0] > self.ttl:
            return False, None
        return True, hit[1]

    def resolve(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], DeviceInfo | None]:
        """pairs of (kind, identity): kind "token" (access token only), "mqtt" (username or token),
        or "child:<gateway id>" (a serial among that gateway's children)."""
        now = time.monotonic()
        out: dict[tuple[str, str], DeviceInfo | None] = {}
        missing: list[tuple[str, str]] = []
        for p in pairs:
            found, info = self._get(*p, now)
            if found:
                out[p] = info
            else:
                missing.append(p)
        if missing:
            # One query whatever the number of misses: a few "= ANY(array)" index scans — not one OR
            # term per device, which PostgreSQL plans and runs far slower (a cold 500-device batch took
            # ~270 ms that way, and every entry goes cold again after ``ttl``).
            hashes: dict[str, str] = {}
            usernames: list[str] = []
            children: dict[int, list[str]] = defaultdict(list)
            for kind, ident in missing:
                if kind in ("token", "mqtt"):
                    hashes[hash_secret(ident)] = ident
                    if kind == "mqtt":
                        usernames.append(ident)
                else:
                    children[int(kind.split(":", 1)[1])].append(ident)
            q = Q(pk__in=[])
            if hashes:
                q |= Q(token_hash__in=list(hashes))
            if usernames:
                q |= Q(mqtt_username__in=usernames)
            for gateway_id, serials in children.items():
                q |= Q(gateway_id=gateway_id, serial__in=serials)
            rows = Device.objects.filter(q).values_list(
                "id", "device_type_id", "region_id", "status", "device_type__category", "token_hash", "mqtt_username", "serial", "gateway_id",
                "region__path", "owner_org_id",
            )
            found_map: dict[tuple[str, str], DeviceInfo] = {}
            for pk, type_id, region_id, status, category, token_hash, username, serial, gateway_id, region_path, owner_org_id in rows:
                info = DeviceInfo(pk, type_id, region_id, status, category == "gateway", region_path, owner_org_id)
                if token_hash in hashes:
                    found_map[("token", hashes[token_hash])] = info
                    found_map[("mqtt", hashes[token_hash])] = info
                found_map[("mqtt", username)] = info
                if gateway_id:
                    found_map[(f"child:{gateway_id}", serial)] = info
            for p in missing:
                info = found_map.get(p)
                self._by[p] = (now, info)
                out[p] = info
        return out


DIRECTORY = DeviceDirectory()


# ---- rule book cache (reloaded when RuleSetVersion changes) --------------------------------------
_BOOK = rules_mod.RuleBook()


_BOOK_CHECKED_AT = 0.0
RULEBOOK_CHECK_S = 1.0  # setting LINLI_RULEBOOK_CHECK_S: how often a worker asks whether the rules changed


def reset_caches() -> None:
    """Forget this process's device directory and rule book (they reload from the database)."""
    global _BOOK
    DIRECTORY.clear()
    _BOOK = rules_mod.RuleBook()
    recheck_rule_book()
    _touched.clear()


def recheck_rule_book() -> None:
    """The next ``rule_book()`` asks the database (called when this process changes a rule)."""
    global _BOOK_CHECKED_AT
    _BOOK_CHECKED_AT = 0.0


def rule_book() -> rules_mod.RuleBook:
    """The rules, reloaded when ``RuleSetVersion`` moved. The version is read at most every
    ``LINLI_RULEBOOK_CHECK_S`` seconds — one query less per batch; a rule edited in another process
    applies within that time, one edited in this process at once."""
    global _BOOK, _BOOK_CHECKED_AT
    now = time.monotonic()
    if now - _BOOK_CHECKED_AT < float(getattr(settings, "LINLI_RULEBOOK_CHECK_S", RULEBOOK_CHECK_S)) and _BOOK.version >= 0:
        return _BOOK
    version = RuleSetVersion.objects.filter(id=1).values_list("version", flat=True).first() or 0
    if version != _BOOK.version:
        _BOOK = rules_mod.RuleBook.from_rows(Rule.objects.all(), version)
    _BOOK_CHECKED_AT = now
    return _BOOK


# ---- writing -------------------------------------------------------------------------------------
Row = tuple[int, str, dt.datetime, float | None, str | None]


TEMP_TABLE_FLAG = "_linli_telemetry_in"


COPY_FROM_ROWS = 200  # below this a batch is one INSERT … SELECT FROM unnest(arrays): one round trip instead of COPY's three


def _write_pg(rows: list[Row]) -> list[Row]:
    """Small batches: one ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING``. Larger: binary COPY into a session temp table, then one INSERT … ON CONFLICT DO NOTHING RETURNING the rows
    that were really new (COPY itself cannot skip duplicates). The temp table is created once per
    database session (``ON COMMIT DELETE ROWS`` empties it at every commit); it counts as created only
    once a transaction creating it has committed."""
    if len(rows) < COPY_FROM_ROWS:
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO iot_telemetry (device_id, key, ts, value, value_text)"
                " SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], %s::float8[], %s::text[])"
                " ON CONFLICT DO NOTHING RETURNING device_id, key, (extract(epoch FROM ts) * 1000000)::bigint",
                [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows]],
            )
            inserted = cur.fetchall()
        return _new_rows(rows, inserted)
    nested = len(connection.atomic_blocks) > 1  # inside an outer transaction that may still roll back
    with connection.cursor() as cur:
        raw = connection.connection
        if not getattr(raw, TEMP_TABLE_FLAG, False):
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS iot_telemetry_in (device_id bigint, key varchar(64), ts timestamptz,"
                " value double precision, value_text text) ON COMMIT DELETE ROWS"
            )
            if not nested:
                transaction.on_commit(lambda: setattr(raw, TEMP_TABLE_FLAG, True))
        with cur.cursor.copy("COPY iot_telemetry_in (device_id, key, ts, value, value_text) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "varchar", "timestamptz", "float8", "text"])
            for r in rows:
                copy.write_row(r)
        # Return the identity of the new rows only, ts as integer µs (no datetime parsing per row).
        cur.execute(
            "INSERT INTO iot_telemetry (device_id, key, ts, value, value_text)"
            " SELECT device_id, key, ts, value, value_text FROM iot_telemetry_in"
            " ON CONFLICT DO NOTHING RETURNING device_id, key, (extract(epoch FROM ts) * 1000000)::bigint"
        )
        inserted = cur.fetchall()
        if nested:  # no commit of ours empties the table
            cur.execute("DELETE FROM iot_telemetry_in")
    return _new_rows(rows, inserted)


def _new_rows(rows: list[Row], inserted: list[tuple[int, str, int]]) -> list[Row]:
    """The rows of the batch that were really new, from the (device, key, ts µs) the INSERT returned."""
    if len(inserted) == len(rows):
        return rows  # every row was new (the usual case)
    fresh = {(d, k, us) for d, k, us in inserted}
    new: list[Row] = []
    for r in rows:
        ident = (r[0], r[1], (r[2] - EPOCH) // ONE_US)
        if ident in fresh:
            fresh.discard(ident)  # a row repeated inside the batch was inserted once
            new.append(r)
    return new


def _write_sqlite(rows: list[Row]) -> list[Row]:
    new: list[Row] = []
    with connection.cursor() as cur:
        for i in range(0, len(rows), 500):
            chunk = rows[i : i + 500]
            sql = (
                "INSERT OR IGNORE INTO iot_telemetry (device_id, key, ts, value, value_text) VALUES "
                + ",".join(["(%s,%s,%s,%s,%s)"] * len(chunk))
                + " RETURNING device_id, key, ts, value, value_text"
            )
            params: list[Any] = []
            for d, k, ts, v, t in chunk:
                params += [d, k, connection.ops.adapt_datetimefield_value(ts), v, t]
            cur.execute(sql, params)
            for d, k, ts, v, t in cur.fetchall():
                new.append((d, k, _parse_sqlite_ts(ts), v, t))
    return new


def _parse_sqlite_ts(raw: Any) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC)


def _upsert_latest(rows: list[Row]) -> None:
    newest: dict[tuple[int, str], Row] = {}
    for r in rows:
        cur_ = newest.get((r[0], r[1]))
        if cur_ is None or r[2] > cur_[2]:
            newest[(r[0], r[1])] = r
    if not newest:
        return
    vals = [newest[k] for k in sorted(newest)]  # one lock order for every worker: no deadlock between two batches
    table = LatestValue._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"INSERT INTO {table} (device_id, key, ts, value, value_text)"
                " SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], %s::float8[], %s::text[])"
                f" ON CONFLICT (device_id, key) DO UPDATE SET ts = EXCLUDED.ts, value = EXCLUDED.value, value_text = EXCLUDED.value_text"
                f" WHERE {table}.ts < EXCLUDED.ts",
                [[r[0] for r in vals], [r[1] for r in vals], [r[2] for r in vals], [r[3] for r in vals], [r[4] for r in vals]],
            )
        else:
            cur.executemany(
                f"INSERT INTO {table} (device_id, key, ts, value, value_text) VALUES (%s, %s, %s, %s, %s)"
                f" ON CONFLICT (device_id, key) DO UPDATE SET ts = excluded.ts, value = excluded.value, value_text = excluded.value_text"
                f" WHERE {table}.ts < excluded.ts",
                [(r[0], r[1], connection.ops.adapt_datetimefield_value(r[2]), r[3], r[4]) for r in vals],
            )


def _shard() -> int:
    """This process and thread's counter row: concurrent workers add to different rows."""
    return hash((os.getpid(), threading.get_ident())) % IngestCounter.SHARDS


def _count(channel: str, result: IngestResult, day: dt.date) -> None:
    if not result.messages:
        return
    shard = _shard()
    updated = IngestCounter.objects.filter(day=day, channel=channel, shard=shard).update(
        messages=F("messages") + result.messages, stored=F("stored") + result.stored,
        duplicates=F("duplicates") + result.duplicates, rejected=F("rejected") + result.rejected,
    )
    if not updated:
        IngestCounter.objects.get_or_create(day=day, channel=channel, shard=shard)
        _count(channel, result, day)


_touched: dict[int, dt.datetime] = {}  # device id → when this process last set its last_seen_at


def _touch_last_seen(device_ids: list[int], now: dt.datetime) -> None:
    """``last_seen_at`` at LAST_SEEN_RESOLUTION. Devices this process set less than that long ago are
    not asked about again (most batches then send no UPDATE at all). On PostgreSQL rows another worker
    is updating right now are skipped (it is setting them to the same moment), so two workers never
    wait for each other's commit here."""
    stale = now - LAST_SEEN_RESOLUTION
    device_ids = [d for d in device_ids if (t := _touched.get(d)) is None or t < stale]
    if not device_ids:
        return
    if len(_touched) > 200_000:
        _touched.clear()
    transaction.on_commit(lambda ids=device_ids: _touched.update(dict.fromkeys(ids, now)))
    if connection.vendor == "postgresql":
        table = Device._meta.db_table
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE {table} SET last_seen_at = %s WHERE id IN (SELECT id FROM {table} WHERE id = ANY(%s)"
                " AND (last_seen_at IS NULL OR last_seen_at < %s) ORDER BY id FOR UPDATE SKIP LOCKED)",
                [now, sorted(device_ids), stale],
            )
        return
    Device.objects.filter(id__in=device_ids).filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=stale)).update(last_seen_at=now)


# ---- the pipeline --------------------------------------------------------------------------------
def ingest_batch(messages: list[InMessage], *, channel: str = "mqtt", now: dt.datetime | None = None) -> IngestResult:
    """Store, dedupe and evaluate a batch of messages in one transaction; returns the counts.

    Never raises for bad input (rejections are counted); database errors propagate, so the caller
    does not acknowledge anything and the broker redelivers the whole batch."""
    now = now or timezone.now()
    result = IngestResult(messages=len(messages))
    decoded: list[tuple[int, InMessage, Any]] = []
    pairs: set[tuple[str, str]] = set()
    for i, m in enumerate(messages):
        try:
            if not isinstance(m.identity, str) or not m.identity or len(m.identity) > 200:
                raise Rejected("device.unknown")
            data = _loads(m.payload)
            if m.kind == "gateway" and (not isinstance(data, dict) or not data):
                raise Rejected("payload.bad_shape", "gateway payload must be an object keyed by device serial")
        except Rejected as exc:
            result.rejected += 1
            result.errors.append((i, exc.code))
            continue
        decoded.append((i, m, data))
        pairs.add(("token" if m.by_token else "mqtt", m.identity))
    directory = DIRECTORY.resolve(pairs)
    child_pairs = set()
    for _i, m, data in decoded:
        gw = directory.get(("token" if m.by_token else "mqtt", m.identity))
        if m.kind == "gateway" and gw is not None:
            child_pairs.update((f"child:{gw.id}", str(serial)) for serial in data)
    if child_pairs:
        directory.update(DIRECTORY.resolve(child_pairs))

    rows: list[Row] = []
    devices: dict[int, DeviceInfo] = {}
    attributes: dict[int, dict[str, Any]] = defaultdict(dict)
    for i, m, data in decoded:
        try:
            dev = directory.get(("token" if m.by_token else "mqtt", m.identity))
            if dev is None:
                raise Rejected("device.unknown", "unknown device")
            if dev.status == DeviceStatus.INACTIVE:
                raise Rejected("device.inactive", "device is deactivated")
            at = m.received_at or now
            if m.kind == "attributes":
                if not isinstance(data, dict) or not data:
                    raise Rejected("payload.bad_shape", "attributes must be a non-empty object")
                for k, v in data.items():
                    _value(k, v if v is not None else "")
                attributes[dev.id].update(data)
                devices[dev.id] = dev
                continue
            if m.kind == "gateway":
                if not dev.is_gateway:
                    raise Rejected("device.not_gateway", "device is not a gateway")
                msg_rows: list[Row] = []
                for serial, sub in data.items():
                    child = directory.get((f"child:{dev.id}", str(serial)))
                    if child is None:
                        raise Rejected("device.unknown_child", f"{serial} is not a device of this gateway")
                    if child.status == DeviceStatus.INACTIVE:
                        raise Rejected("device.inactive", f"{serial} is deactivated")
                    msg_rows += [(child.id, k, ts, v, t) for ts, k, v, t in parse_telemetry(sub, at)]
                    devices[child.id] = child
                rows += msg_rows
                devices[dev.id] = dev
                continue
            if m.kind != "telemetry":
                raise Rejected("payload.bad_topic", f"unknown message kind {m.kind}")
            rows += [(dev.id, k, ts, v, t) for ts, k, v, t in parse_telemetry(data, at)]
            devices[dev.id] = dev
        except Rejected as exc:
            result.rejected += 1
            result.errors.append((i, exc.code))
    if result.rejected:
        log.info("iot ingest: %d of %d messages rejected: %s", result.rejected, result.messages, sorted({c for _, c in result.errors}))

    with transaction.atomic():
        new = (_write_pg(rows) if connection.vendor == "postgresql" else _write_sqlite(rows)) if rows else []
        result.stored = len(new)
        result.duplicates = len(rows) - len(new)
        if devices:
            _touch_last_seen(list(devices), now)
        for dev_id, attrs in attributes.items():
            d = Device.objects.select_for_update().only("id", "attributes").get(pk=dev_id)
            d.attributes = {**(d.attributes or {}), **attrs}
            d.save(update_fields=["attributes"])
        if new:
            _evaluate(new, devices, result)
            _upsert_latest(new)
        _count(channel, result, now.date())
    return result


def _evaluate(new: list[Row], devices: dict[int, DeviceInfo], result: IngestResult) -> None:
    from . import services  # alarms are written by the alarm services

    book = rule_book()
    per_device: dict[int, list[rules_mod.CompiledRule]] = {}
    for dev_id in {r[0] for r in new}:
        info = devices[dev_id]
        if info.status != DeviceStatus.ACTIVE:
            continue  # maintenance: store data, raise nothing
        applicable = book.for_device(dev_id, info.type_id)
        if applicable:
            per_device[dev_id] = applicable
    if not per_device:
        return
    ids = sorted(per_device)
    states: dict[int, dict[int, rules_mod.State]] = defaultdict(dict)
    for s in _locked_states(ids):
        states[s.device_id][s.rule_id] = rules_mod.State(s.pending_since, s.active, s.last_ts, s.last_value, exists=True)
    need_latest = [d for d in ids if any(r.needs_latest for r in per_device[d])]
    latest: dict[int, dict[str, rules_mod.Reading]] = defaultdict(dict)
    if need_latest:
        for lv in LatestValue.objects.filter(device_id__in=need_latest):
            latest[lv.device_id][lv.key] = rules_mod.Reading(lv.value, lv.value_text, lv.ts)
    ticks: dict[int, dict[dt.datetime, dict[str, rules_mod.Reading]]] = defaultdict(lambda: defaultdict(dict))
    for d, k, ts, v, t in new:
        if d in per_device:
            ticks[d][ts][k] = rules_mod.Reading(v, t, ts)
    planned = [(dev_id, rules_mod.evaluate_device(per_device[dev_id], states[dev_id], latest[dev_id], sorted(ticks[dev_id].items())))
               for dev_id in ids]
    _save_states(states)
    audit: list[dict] = []
    for dev_id, actions in planned:
        for a in actions:
            if a.kind == "raise":
                info = devices[dev_id]
                services.alarm_raise(device_id=dev_id, region_id=info.region_id, rule=a.rule, at=a.at,
                                     placed=(info.region_path, info.owner_org_id) if info.region_path else None,
                                     key=a.key, value=a.value, value_text=a.value_text, audit=audit)
                result.alarms_raised += 1
            elif services.alarm_auto_clear(device_id=dev_id, rule_id=a.rule.id, at=a.at, audit=audit, region_path=devices[dev_id].region_path):
                result.alarms_cleared += 1
    if audit:
        from linli.audit.services import record_many

        record_many(audit)  # one head lock per batch, not one per alarm


def _locked_states(ids: list[int]) -> Any:
    """The batch's rule states, row-locked in id order (one array parameter on PostgreSQL, not one
    placeholder per device)."""
    if connection.vendor == "postgresql":
        return RuleState.objects.raw(
            f"SELECT id, device_id, rule_id, pending_since, active, last_ts, last_value FROM {RuleState._meta.db_table}"
            " WHERE device_id = ANY(%s) ORDER BY id FOR UPDATE",
            [ids],
        )
    return RuleState.objects.select_for_update().filter(device_id__in=ids).order_by("id")


def _save_states(states: dict[int, dict[int, rules_mod.State]]) -> None:
    """Write the changed rule states of every device of the batch: one DELETE (back at rest) and one upsert."""
    gone = Q(pk__in=[])
    n_gone = 0
    to_upsert = []
    for device_id, dev_states in states.items():
        rest = [rid for rid, s in dev_states.items() if s.dirty and s.exists and s.at_rest]
        if rest:
            gone |= Q(device_id=device_id, rule_id__in=rest)
            n_gone += len(rest)
        to_upsert += [
            RuleState(device_id=device_id, rule_id=rid, pending_since=s.pending_since, active=s.active, last_ts=s.last_ts, last_value=s.last_value)
            for rid, s in dev_states.items() if s.dirty and not s.at_rest
        ]
        for s in dev_states.values():
            s.dirty = False
    if n_gone:
        RuleState.objects.filter(gone).delete()
    if to_upsert:
        RuleState.objects.bulk_create(
            to_upsert, update_conflicts=True, unique_fields=["device", "rule"], update_fields=["pending_since", "active", "last_ts", "last_value"]
        )
