"""Telemetry partitions on PostgreSQL (D6): ``iot_telemetry`` is ``PARTITION BY RANGE (ts)`` with one
partition per month and a DEFAULT partition, so a row with an unexpected timestamp never fails a COPY
(with ack-after-commit a failing batch would be redelivered forever). ``ensure_partitions`` is
idempotent; the offline sweep calls it so months keep being created ahead of time. On SQLite the
table is a plain table with the same primary key."""

from __future__ import annotations

import datetime as dt

from django.db import connection as default_connection

TABLE = "iot_telemetry"
MONTHS_BACK = 1
MONTHS_AHEAD = 3

CREATE_PARTITIONED = f"""
CREATE TABLE {TABLE} (
    device_id bigint NOT NULL,
    key varchar(64) NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NULL,
    value_text text NULL,
    PRIMARY KEY (device_id, key, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT;
"""


def _month(d: dt.date, add: int) -> dt.date:
    m = d.year * 12 + d.month - 1 + add
    return dt.date(m // 12, m % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"{TABLE}_{month:%Y%m}"


def is_partitioned(connection=default_connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = %s", [TABLE])
        return cur.fetchone() is not None


def ensure_partitions(connection=default_connection, *, today: dt.date | None = None, back: int = MONTHS_BACK, ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the monthly partitions from ``back`` months ago to ``ahead`` months ahead; return new names.

    A month that already has rows in the DEFAULT partition is skipped (PostgreSQL would refuse the
    new partition); such rows stay queryable there."""
    if not is_partitioned(connection):
        return []
    today = today or dt.datetime.now(dt.UTC).date()
    created: list[str] = []
    with connection.cursor() as cur:
        for i in range(-back, ahead + 1):
            start = _month(today, i)
            end = _month(start, 1)
            name = partition_name(start)
            cur.execute("SELECT 1 FROM pg_class WHERE relname = %s", [name])
            if cur.fetchone():
                continue
            cur.execute(f"SELECT 1 FROM {TABLE}_default WHERE ts >= %s AND ts < %s LIMIT 1", [start, end])
            if cur.fetchone():
                continue
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {TABLE} FOR VALUES FROM ('{start.isoformat()} 00:00:00+00') TO ('{end.isoformat()} 00:00:00+00')"
            )
            created.append(name)
    return created


def make_partitioned(schema_editor) -> None:
    """Migration step: replace the plain (empty) table Django created by the partitioned one."""
    conn = schema_editor.connection
    if conn.vendor != "postgresql" or is_partitioned(conn):
        return
    schema_editor.execute(f"DROP TABLE {TABLE}")
    schema_editor.execute(CREATE_PARTITIONED)
    ensure_partitions(conn)


def make_plain(schema_editor) -> None:
    conn = schema_editor.connection
    if conn.vendor != "postgresql" or not is_partitioned(conn):
        return
    schema_editor.execute(f"DROP TABLE {TABLE} CASCADE")
    schema_editor.execute(
        f"CREATE TABLE {TABLE} (device_id bigint NOT NULL, key varchar(64) NOT NULL, ts timestamptz NOT NULL,"
        " value double precision NULL, value_text text NULL, PRIMARY KEY (device_id, key, ts))"
    )
