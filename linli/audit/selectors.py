"""Reading and verifying the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from .models import AuditEntry
from .services import GENESIS, compute_hash, entry_payload


@dataclass
class ChainReport:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str = ""


def verify_chain(*, batch: int = 5000) -> ChainReport:
    """Walk the chain in seq order; report the first entry whose link or hash does not hold."""
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    last_seq = 0
    while True:
        rows = list(AuditEntry.objects.filter(seq__gt=last_seq).order_by("seq")[:batch])
        if not rows:
            break
        for e in rows:
            if e.seq != expected_seq:
                return ChainReport(False, checked, expected_seq, f"missing entry: expected seq {expected_seq}, found {e.seq}")
            if e.prev_hash != prev_hash:
                return ChainReport(False, checked, e.seq, "prev_hash does not match the previous entry's hash")
            if compute_hash(prev_hash, entry_payload(e)) != e.hash:
                return ChainReport(False, checked, e.seq, "content does not match its hash (entry altered)")
            prev_hash = e.hash
            expected_seq += 1
            checked += 1
            last_seq = e.seq
    return ChainReport(True, checked)


def entries_for_actor(actor, perm: str) -> QuerySet[AuditEntry]:
    """Audit entries visible to ``actor``: by region scope of the entry (unscoped entries: superuser)."""
    if actor is None or not actor.is_authenticated:
        return AuditEntry.objects.none()
    paths = actor.scope_paths(perm)
    if paths is None:
        return AuditEntry.objects.all()
    if not paths:
        return AuditEntry.objects.none()
    from django.db.models import Q

    q = Q(pk__in=[])
    for p in paths:
        q |= Q(region_path__startswith=p)
    return AuditEntry.objects.filter(q)


def audit_entries(
    *,
    actor,
    actor_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    kind: str | None = None,
    since=None,
    until=None,
) -> QuerySet[AuditEntry]:
    """Entries visible with AUDIT_VIEW, filtered. ``action`` ending in '.' is a prefix match."""
    from linli.orgs.perms import Perm

    qs = entries_for_actor(actor, Perm.AUDIT_VIEW)
    if actor_id is not None:
        qs = qs.filter(actor_id=actor_id)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if action:
        qs = qs.filter(action__startswith=action) if action.endswith(".") else qs.filter(action=action)
    if kind:
        qs = qs.filter(kind=kind)
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    return qs
