"""Keyset (cursor) pagination: constant cost per page on tables of any size.

The cursor is an opaque base64 token of the last row's ordering values. Lists are ordered by a
unique key (default: descending id) so pages never skip or repeat rows while data changes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from .errors import Invalid
from .i18n import Msg

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), default=str, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> list[Any]:
    try:
        pad = "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(token + pad))
        if not isinstance(data, list):
            raise ValueError
        return data
    except Exception as exc:
        raise Invalid("pagination.bad_cursor", Msg("分页游标无效", "Invalid pagination cursor")) from exc


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid("pagination.bad_limit", Msg("每页条数须在1到{max}之间", "limit must be between 1 and {max}"), max=MAX_LIMIT)
    return limit


# Above this many partitions the plain keyset query is used (the scope is then a large share of the table).
PARTITION_MAX = 64


def paginate(
    qs: QuerySet,
    *,
    cursor: str | None,
    limit: int | None,
    order: str = "-id",
    partition: tuple[str, list[Any]] | None = None,
) -> tuple[list[Any], str | None]:
    """Return (rows, next_cursor). ``order`` is one unique field, optionally prefixed with '-'.

    ``partition=("region_id", [ids…])`` restricts the rows to those values of an indexed column (an
    index on (column, order field) must exist); pass ``qs`` without that restriction. On PostgreSQL, ``col IN (…) ORDER BY id DESC
    LIMIT n`` is then planned as a backward scan of the whole primary key, which reads a large share of
    a big table when the partitions are a small one (a community in a district). Instead each partition
    gives its own first n+1 keys from its index, merged: at most PARTITION_MAX × (n+1) keys, then one
    fetch by primary key. Two queries, whatever the table size.
    """
    n = clamp_limit(limit)
    desc = order.startswith("-")
    field = order.lstrip("-")
    qs = qs.order_by(order)
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 1:
            raise Invalid("pagination.bad_cursor", Msg("分页游标无效", "Invalid pagination cursor"))
        qs = qs.filter(Q(**{f"{field}__lt" if desc else f"{field}__gt": values[0]}))
    if partition is not None:
        column, values = partition
        if 1 < len(values) <= PARTITION_MAX and connection.vendor == "postgresql":
            keys = _partitioned_keys(qs, column, values, order, n + 1)
            qs = qs.filter(**{f"{field}__in": keys})
        qs = qs.filter(**{f"{column}__in": values})
    rows = list(qs[: n + 1])
    next_cursor = None
    if len(rows) > n:
        rows = rows[:n]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, field)])
    return rows, next_cursor


_SENTINEL = -9_007_199_254_740_991  # stands for "this partition's key" while the subquery is compiled


def _partitioned_keys(qs: QuerySet, column: str, keys: list[Any], order: str, n: int) -> list[Any]:
    """First ``n`` values of the order field, read per partition on its (column, order) index.

    The per-partition subquery is compiled once with a sentinel for the partition key, which is then
    swapped for a LATERAL reference: ``unnest(keys) CROSS JOIN LATERAL (… WHERE column = r.k … LIMIT n)``.
    """
    field = order.lstrip("-")
    inner = qs.filter(**{column: _SENTINEL}).order_by(order).values_list(field, flat=True)[:n]
    sql, params = inner.query.sql_with_params()
    pieces = sql.split("%s")
    hits = [i for i, p in enumerate(params) if p == _SENTINEL]
    if len(pieces) != len(params) + 1 or len(hits) != 1:  # unexpected SQL shape: fall back to plain SQL
        return list(qs.filter(**{f"{column}__in": keys}).order_by(order).values_list(field, flat=True)[:n])
    i = hits[0]
    inner_sql = "%s".join(pieces[: i + 1]) + "r.k" + "%s".join(pieces[i + 1 :])
    direction = "DESC" if order.startswith("-") else "ASC"
    outer = (
        f"SELECT t.v FROM unnest(%s) AS r(k) CROSS JOIN LATERAL ({inner_sql}) AS t(v) "
        f"ORDER BY t.v {direction} LIMIT {int(n)}"
    )
    with connection.cursor() as cur:
        cur.execute(outer, [list(keys), *params[:i], *params[i + 1 :]])
        return [row[0] for row in cur.fetchall()]
