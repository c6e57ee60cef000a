"""API schemas for the audit trail (O3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema


class AuditEntryOut(Schema):
    seq: int
    at: dt.datetime
    actor_id: int | None
    actor_label: str
    action: str
    kind: str
    object_type: str
    object_id: str
    region_path: str
    ip: str
    channel: str
    request_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: dict[str, Any] | None
    hash: str


class AuditFilter(Schema):
    actor_id: int | None = None
    object_type: str | None = Field(None, max_length=64)
    object_id: str | None = Field(None, max_length=64)
    action: str | None = Field(None, max_length=64, description="精确匹配，或以 . 结尾表示前缀，如 `auth.`")
    kind: str | None = Field(None, pattern="^(write|read|auth)$")
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class ChainReportOut(Schema):
    ok: bool
    checked: int
    first_broken_seq: int | None
    reason: str
