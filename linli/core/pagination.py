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

    ``partition=("region_id", [ids…])`` says the rows are restricted to those values of an indexed
    column (an index on (column, order field) must exist). On PostgreSQL, ``col IN (…) ORDER BY id DESC
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
    if partition is not None and 1 < len(partition[1]) <= PARTITION_MAX and connection.vendor == "postgresql":
        column, keys = partition
        per_part = [
            qs.filter(**{column: key}).order_by(order).values_list(field, flat=True)[: n + 1] for key in keys
        ]
        merged = sorted(per_part[0].union(*per_part[1:], all=True), reverse=desc)[: n + 1]
        qs = qs.filter(**{f"{field}__in": merged})
    rows = list(qs[: n + 1])
    next_cursor = None
    if len(rows) > n:
        rows = rows[:n]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, field)])
    return rows, next_cursor
