"""Parsing of the console's filter and form parameters (query strings and posted fields), one
implementation for every console view: a missing or malformed value becomes ``None`` (or the given
default), never an exception — the service or selector it is passed to decides what is required.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

SEARCH_MAX = 100


def int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def date_or(value: Any, default: dt.date | None = None) -> dt.date | None:
    """An ISO date (``2026-12-02``), or ``default`` when empty or malformed."""
    try:
        return dt.date.fromisoformat(value) if value else default
    except (TypeError, ValueError):
        return default


def time_or_none(value: Any) -> dt.time | None:
    try:
        return dt.time.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def search_text(params: Any, name: str = "q", limit: int = SEARCH_MAX) -> str:
    """A free-text search parameter, trimmed and capped (``request.GET`` or ``request.POST``)."""
    return (params.get(name) or "").strip()[:limit]
