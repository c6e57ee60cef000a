"""Writing the audit trail. Call ``record`` inside the transaction of the write it describes, so
the audit entry commits (or rolls back) with it."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from linli.core import context

from .models import AuditEntry, AuditHead

GENESIS = "0" * 64
SENSITIVE_KEYS = {"id_number", "phone", "password", "key_hash", "template"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def redact(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """Never store plaintext personal data in the audit trail: sensitive keys become '***'."""
    if data is None:
        return None
    return {k: ("***" if k in SENSITIVE_KEYS and v not in (None, "") else _jsonable(v)) for k, v in data.items()}


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def entry_payload(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor_id": e.actor_id,
        "actor_label": e.actor_label,
        "action": e.action,
        "kind": e.kind,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "region_path": e.region_path,
        "ip": e.ip,
        "channel": e.channel,
        "request_id": e.request_id,
        "before": e.before,
        "after": e.after,
        "detail": e.detail,
    }


def compute_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(payload)).hexdigest()


def snapshot(obj: Model, fields: list[str] | None = None) -> dict[str, Any]:
    """Field values of ``obj`` for before/after (FKs as ids), sensitive ones redacted."""
    out: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        if fields is not None and f.name not in fields:
            continue
        out[f.attname if f.is_relation else f.name] = getattr(obj, f.attname)
    return redact(out) or {}


@transaction.atomic(savepoint=False)  # inside a service's transaction: no savepoint — a failed append fails the write
def record(
    *,
    actor: Any,
    action: str,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    kind: str = "write",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    region_path: str = "",
) -> AuditEntry:
    """Append one entry to the chain. Serialised by locking the head row."""
    ctx = context.current()
    if obj is not None:
        object_type = object_type or f"{obj._meta.app_label}.{obj._meta.model_name}"
        object_id = object_id or obj.pk
    head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
    entry = AuditEntry(
        seq=head.seq + 1,
        at=timezone.now(),
        actor_id=getattr(actor, "pk", None),
        actor_label=(str(getattr(actor, "username", "") or "system"))[:150],
        action=action[:64],
        kind=kind,
        object_type=object_type[:64],
        object_id=str(object_id)[:64],
        region_path=region_path[:255],
        ip=ctx.ip,
        channel=ctx.channel,
        request_id=ctx.request_id,
        before=redact(before),
        after=redact(after),
        detail=_jsonable(detail) if detail is not None else None,
        prev_hash=head.hash,
    )
    entry.hash = compute_hash(head.hash, entry_payload(entry))
    entry.save()
    AuditHead.objects.filter(id=1).update(seq=entry.seq, hash=entry.hash)
    return entry


def record_many(items: list[dict[str, Any]]) -> list[AuditEntry]:
    """Append several entries (each a ``record`` keyword dict) with one head lock, one bulk insert and
    one head update — for system paths that write many at once (alarms raised by one ingest batch)."""
    if not items:
        return []
    ctx = context.current()
    head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
    seq, prev = head.seq, head.hash
    entries = []
    for it in items:
        obj = it.get("obj")
        object_type = it.get("object_type", "") or (f"{obj._meta.app_label}.{obj._meta.model_name}" if obj is not None else "")
        object_id = it.get("object_id", "") or (obj.pk if obj is not None else "")
        actor = it.get("actor")
        seq += 1
        entry = AuditEntry(
            seq=seq, at=timezone.now(), actor_id=getattr(actor, "pk", None),
            actor_label=(str(getattr(actor, "username", "") or "system"))[:150], action=it["action"][:64], kind=it.get("kind", "write"),
            object_type=object_type[:64], object_id=str(object_id)[:64], region_path=it.get("region_path", "")[:255],
            ip=ctx.ip, channel=ctx.channel, request_id=ctx.request_id, before=redact(it.get("before")), after=redact(it.get("after")),
            detail=_jsonable(it["detail"]) if it.get("detail") is not None else None, prev_hash=prev,
        )
        entry.hash = prev = compute_hash(prev, entry_payload(entry))
        entries.append(entry)
    AuditEntry.objects.bulk_create(entries)
    AuditHead.objects.filter(id=1).update(seq=seq, hash=prev)
    return entries


def record_read(*, actor: Any, action: str, obj: Model, fields: list[str], purpose: str = "", region_path: str = "") -> AuditEntry:
    """Audit a sensitive read (e.g. revealing an unmasked ID number)."""
    return record(actor=actor, action=action, obj=obj, kind="read", detail={"fields": fields, "purpose": purpose}, region_path=region_path)
