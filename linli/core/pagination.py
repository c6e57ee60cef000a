"""Keyset (cursor) pagination: constant cost per page on tables of any size.

The cursor is an opaque base64 token of the last row's ordering values. Lists are ordered by a
unique key (default: descending id) so pages never skip or repeat rows while data changes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

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


def paginate(qs: QuerySet, *, cursor: str | None, limit: int | None, order: str = "-id") -> tuple[list[Any], str | None]:
    """Return (rows, next_cursor). ``order`` is one unique field, optionally prefixed with '-'."""
    n = clamp_limit(limit)
    desc = order.startswith("-")
    field = order.lstrip("-")
    qs = qs.order_by(order)
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 1:
            raise Invalid("pagination.bad_cursor", Msg("分页游标无效", "Invalid pagination cursor"))
        qs = qs.filter(Q(**{f"{field}__lt" if desc else f"{field}__gt": values[0]}))
    rows = list(qs[: n + 1])
    next_cursor = None
    if len(rows) > n:
        rows = rows[:n]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, field)])
    return rows, next_cursor
