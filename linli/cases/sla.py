"""SLA sweep (C3): warn at 80 %, escalate to the street at 100 %, to the district at 2×.

Each stage is a loop of small transactions over an indexed range of open cases (partial indexes
``case_sweep_*``). A batch is selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite serialises
writers anyway), changed with ONE conditional UPDATE that also stamps the sweep's own timestamp,
and only rows carrying that stamp get a timeline event and notifications. A second sweep — run
concurrently, twice, or after a crash mid-way — finds nothing left to do for those rows, so nothing
is escalated or notified twice. Events, notifications and the audit entry are written set-based
per batch, never with a loop over all open cases.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from linli.audit.services import record
from linli.orgs.models import Account, AccountKind, Role, RoleAssignment
from linli.places.models import Level

from .models import OPEN_STATUSES, Case, CaseEvent, EventKind, Notification, NotificationKind
from .notify import notify
from .perms import CasePerm
from .routing import ancestor_paths

log = logging.getLogger("linli.cases.sla")
BATCH = 1000
_OPEN = [s.value for s in OPEN_STATUSES]


@dataclass(frozen=True)
class Stage:
    name: str
    time_field: str
    pending: Q  # rows still to handle (matches a partial index)
    level: int | None  # escalation level reached; None for the warning


STAGES = (
    Stage("warn", "warn_at", Q(status__in=_OPEN, warned_at__isnull=True), None),
    Stage("level1", "due_at", Q(status__in=_OPEN, escalation_level=0), 1),
    Stage("level2", "escalate2_at", Q(status__in=_OPEN, escalation_level=1), 2),
)


def _supervisors(level: str) -> dict[str, list[int]]:
    """Region path → accounts holding case.supervise through a role assigned exactly at a region of
    ``level`` (street or district)."""
    roles = [pk for pk, perms in Role.objects.values_list("id", "permissions") if CasePerm.SUPERVISE in (perms or [])]
    if not roles:
        return {}
    now = timezone.now()
    out: dict[str, list[int]] = defaultdict(list)
    rows = (
        RoleAssignment.objects.filter(role_id__in=roles, region__level=level, account__is_active=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .values_list("region__path", "account_id")
    )
    for path, account_id in rows:
        out[path].append(account_id)
    return out


def _org_staff(org_ids: set[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    if org_ids:
        for org, acc in Account.objects.filter(organisation_id__in=org_ids, is_active=True, kind=AccountKind.STAFF).values_list(
            "organisation_id", "id"
        ):
            out[org].append(acc)
    return out


def _messages(stage: Stage, number: str, title: str) -> tuple[str, str]:
    if stage.level is None:
        return NotificationKind.WARNED, f"事件 {number}（{title[:30]}）即将超时，请尽快处置"
    where = "街道" if stage.level == 1 else "区县"
    return NotificationKind.ESCALATED, f"事件 {number}（{title[:30]}）已超时，升级至{where}督办"


def _run_batch(stage: Stage, now: dt.datetime, batch: int, supervisors: dict[str, list[int]]) -> int:
    """One transaction: lock, update conditionally, then events + notices for the rows we changed."""
    with transaction.atomic():
        due = Q(**{f"{stage.time_field}__lte": now})
        ids = list(
            Case.objects.filter(stage.pending, due).order_by(stage.time_field, "id")
            .select_for_update(skip_locked=True).values_list("id", flat=True)[:batch]
        )
        if not ids:
            return 0
        if stage.level is None:
            changes: dict[str, Any] = {"warned_at": now}
            mine = Q(warned_at=now)
        else:
            changes = {"escalation_level": stage.level, "escalated_at": now}
            mine = Q(escalation_level=stage.level, escalated_at=now)
        # A warning for a case already past due is stamped but not announced: the escalation speaks.
        notice = Q() if stage.level is not None else Q(due_at__gt=now)
        announced = list(Case.objects.filter(Q(pk__in=ids) & stage.pending & due & notice).values_list("id", flat=True))
        changed = Case.objects.filter(Q(pk__in=ids) & stage.pending & due).update(**changes)
        if announced:
            Case.objects.filter(pk__in=announced).filter(mine).update(event_seq=F("event_seq") + 1)
        rows = list(
            Case.objects.filter(pk__in=announced).filter(mine)
            .values("id", "number", "title", "status", "event_seq", "assigned_org_id", "assigned_account_id", "region__path")
        )
        if rows:
            CaseEvent.objects.bulk_create([
                CaseEvent(case_id=r["id"], seq=r["event_seq"], kind=EventKind.WARNED if stage.level is None else EventKind.ESCALATED,
                          from_status=r["status"], to_status=r["status"], data={"level": stage.level, "automatic": True})
                for r in rows
            ])
            staff = _org_staff({r["assigned_org_id"] for r in rows if r["assigned_org_id"]})
            notices = []
            for r in rows:
                recipients = {r["assigned_account_id"], *staff.get(r["assigned_org_id"], [])}
                for path in ancestor_paths(r["region__path"]):
                    recipients.update(supervisors.get(path, []))
                kind, message = _messages(stage, r["number"], r["title"])
                key = "warned" if stage.level is None else f"escalated:{stage.level}"
                notices += [Notification(recipient_id=a, case_id=r["id"], kind=kind, key=key, message=message) for a in recipients if a]
            notify(rows=notices)
        record(actor=None, action=f"case.sla.{stage.name}", object_type="cases.case", object_id="batch",
               detail={"cases": ids, "announced": [r["id"] for r in rows], "at": now.isoformat()})
        return changed


def sweep(*, now: dt.datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """Run all three stages until nothing is left; returns how many cases each stage changed."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    for stage in STAGES:
        supervisors = {} if stage.level is None else _supervisors(Level.STREET if stage.level == 1 else Level.DISTRICT)
        total = 0
        while True:
            n = _run_batch(stage, now, batch, supervisors)
            total += n
            if n < batch:
                break
        counts[stage.name] = total
    if any(counts.values()):
        log.info("case SLA sweep at %s: %s", now.isoformat(), counts)
    return counts
