"""SLA sweep (C3): warn at 80 %, escalate to the street at 100 %, to the district at 2×.

Each stage is a loop of transactions over an indexed range of open cases (partial indexes
``case_open_*``, walked in time order: each batch resumes where the previous one ended). A batch is claimed by ONE statement — ``UPDATE … WHERE id IN (SELECT … LIMIT n
FOR UPDATE SKIP LOCKED) AND <still pending> RETURNING …`` (SKIP LOCKED on PostgreSQL; SQLite
serialises writers anyway) — and only the rows it returns get a timeline event and notifications.
The columns it writes are named by no index, so on PostgreSQL the UPDATE is a HOT update (the
table keeps free room per page: fillfactor, migration 0007) instead of ~18 index insertions a row.
A second sweep — run concurrently, twice, or after a crash mid-way — finds nothing left to do for
those rows, so nothing is escalated or notified twice. Events, notifications and the audit entry
are written set-based per batch (on PostgreSQL as ``INSERT … SELECT FROM unnest(arrays)``), never
with a loop over all open cases; delivery is enqueued after commit in chunks.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from linli.audit.services import record
from linli.orgs.models import Account, AccountKind, Role, RoleAssignment
from linli.places.models import Level, Region

from .models import OPEN_STATUSES, Case, CaseEvent, EventKind, Notification, NotificationKind
from .notify import deliver_after_commit, insert_keyed
from .perms import CasePerm
from .routing import ancestor_paths

log = logging.getLogger("linli.cases.sla")
BATCH = 5000
_OPEN = [s.value for s in OPEN_STATUSES]


@dataclass(frozen=True)
class Stage:
    name: str
    time_field: str  # the instant that makes a case due for this stage (partial index case_open_*)
    level: int | None  # escalation level reached; None for the warning


STAGES = (
    Stage("warn", "warn_at", None),
    Stage("level1", "due_at", 1),
    Stage("level2", "escalate2_at", 2),
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


def _messages(stage: Stage) -> tuple[str, str]:
    """Notification kind and message pattern of a stage; ``%s`` slots: case number, first 30
    characters of the title (Python's ``%`` and PostgreSQL's ``format()`` read it alike)."""
    if stage.level is None:
        return NotificationKind.WARNED, "事件 %s（%s）即将超时，请尽快处置"
    where = "街道" if stage.level == 1 else "区县"
    return NotificationKind.ESCALATED, f"事件 %s（%s）已超时，升级至{where}督办"


def _insert_notices(stage: Stage, key: str, recipients: list[int], cases: list[int], titles: dict[int, tuple[str, str]]) -> list[int]:
    """Keyed notifications (recipient, case) of a batch; returns the ids inserted. On PostgreSQL the
    message is composed in the statement from the case row, so only two integer arrays travel."""
    kind, pattern = _messages(stage)
    if connection.vendor != "postgresql":
        return insert_keyed({"recipient_id": recipients, "case_id": cases, "kind": [kind] * len(cases), "key": [key] * len(cases),
                             "message": [pattern % (titles[c][0], titles[c][1][:30]) for c in cases]})
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {Notification._meta.db_table} (recipient_id, case_id, kind, key, message, created_at) "
            f"SELECT t.r, t.c, %s, %s, format(%s, c.number, left(c.title, 30)), %s FROM unnest(%s::bigint[], %s::bigint[]) AS t(r, c) "
            f"JOIN {Case._meta.db_table} c ON c.id = t.c ON CONFLICT DO NOTHING RETURNING id",
            [kind, key, pattern, timezone.now(), recipients, cases],
        )
        return [r[0] for r in cur.fetchall()]


def _claim_sql(stage: Stage, now: dt.datetime, batch: int, after: dt.datetime | None = None) -> tuple[str, list[Any]]:
    """Stamp up to ``batch`` due cases of ``stage`` in ONE statement and return what changed.

    ``UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING …``: the inner
    select walks the stage's partial index; the outer WHERE repeats the stage's condition, so a row
    another sweep stamped meanwhile is not stamped (nor announced) again. ``event_seq`` advances only
    for announced rows — a warning for a case already past due is stamped silently. ``after``: the
    stage instant the previous batch of this sweep ended at (rows before it are done or held by a
    concurrent sweep), so a batch does not re-walk the handled head of the index."""
    table = Case._meta.db_table
    open_marks = ", ".join(["%s"] * len(_OPEN))
    if stage.level is None:
        pending, params_pending = f"status IN ({open_marks}) AND warned_at IS NULL", [*_OPEN]
        announce = "due_at > %s"
        sets, set_params = "warned_at = %s", [now]
    else:
        pending, params_pending = f"status IN ({open_marks}) AND escalation_level = %s", [*_OPEN, stage.level - 1]
        announce = "1 = 1"
        sets, set_params = "escalation_level = %s, escalated_at = %s", [stage.level, now]
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    field = stage.time_field
    resume, resume_params = (f" AND {field} >= %s", [after]) if after is not None else ("", [])
    sql = (
        f"UPDATE {table} SET {sets}, event_seq = event_seq + (CASE WHEN {announce} THEN 1 ELSE 0 END) "
        f"WHERE id IN (SELECT id FROM {table} WHERE {pending} AND {field} <= %s{resume} ORDER BY {field} LIMIT %s{lock}) "
        f"AND {pending} AND {field} <= %s "
        f"RETURNING id, number, title, status, event_seq, assigned_org_id, assigned_account_id, region_id, "
        f"(CASE WHEN {announce} THEN 1 ELSE 0 END), {field}"
    )
    announce_params = [now] if stage.level is None else []
    params = [*set_params, *announce_params, *params_pending, now, *resume_params, batch, *params_pending, now, *announce_params]
    return sql, params


def _claim(stage: Stage, now: dt.datetime, batch: int, after: dt.datetime | None) -> list[dict[str, Any]]:
    sql, params = _claim_sql(stage, now, batch, after)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        cols = ["id", "number", "title", "status", "event_seq", "assigned_org_id", "assigned_account_id", "region_id", "announce", "at"]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _insert_events(stage: Stage, rows: list[dict[str, Any]]) -> None:
    """The timeline rows of a claimed batch; on PostgreSQL one INSERT … SELECT FROM unnest(arrays)."""
    kind = EventKind.WARNED if stage.level is None else EventKind.ESCALATED
    data = {"level": stage.level, "automatic": True}
    if connection.vendor != "postgresql":
        CaseEvent.objects.bulk_create([CaseEvent(case_id=r["id"], seq=r["event_seq"], kind=kind, from_status=r["status"],
                                                 to_status=r["status"], data=data) for r in rows], batch_size=1000)
        return
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {CaseEvent._meta.db_table} (case_id, seq, kind, from_status, to_status, note, photos, data, created_at) "
            "SELECT c, s, %s, st, st, '', '[]'::jsonb, %s::jsonb, %s FROM unnest(%s::bigint[], %s::int[], %s::text[]) AS t(c, s, st)",
            [kind.value, json.dumps(data), timezone.now(), [r["id"] for r in rows], [r["event_seq"] for r in rows], [r["status"] for r in rows]],
        )


def _run_batch(stage: Stage, now: dt.datetime, batch: int, supervisors: dict[str, list[int]],
               after: dt.datetime | None = None) -> tuple[int, dt.datetime | None]:
    """One transaction: claim a batch with one UPDATE … RETURNING, then bulk-insert the timeline
    events and notifications of the announced rows and one audit entry."""
    with transaction.atomic():
        changed = _claim(stage, now, batch, after)
        if not changed:
            return 0, after
        rows = [r for r in changed if r["announce"]]
        if rows:
            _insert_events(stage, rows)
            staff = _org_staff({r["assigned_org_id"] for r in rows if r["assigned_org_id"]})
            paths = dict(Region.objects.filter(pk__in={r["region_id"] for r in rows}).values_list("id", "path")) if supervisors else {}
            key = "warned" if stage.level is None else f"escalated:{stage.level}"
            to: list[int] = []
            about: list[int] = []
            for r in rows:
                recipients = {r["assigned_account_id"], *staff.get(r["assigned_org_id"], [])}
                for path in ancestor_paths(paths.get(r["region_id"], "")):
                    recipients.update(supervisors.get(path, []))
                for a in sorted(x for x in recipients if x):
                    to.append(a)
                    about.append(r["id"])
            deliver_after_commit(_insert_notices(stage, key, to, about, {r["id"]: (r["number"], r["title"]) for r in rows}))
        record(actor=None, action=f"case.sla.{stage.name}", object_type="cases.case", object_id="batch",
               detail={"cases": [r["id"] for r in changed], "announced": [r["id"] for r in rows], "at": now.isoformat()})
        return len(changed), max(r["at"] for r in changed)


def sweep(*, now: dt.datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """Run all three stages until nothing is left; returns how many cases each stage changed."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    for stage in STAGES:
        supervisors = {} if stage.level is None else _supervisors(Level.STREET if stage.level == 1 else Level.DISTRICT)
        total, after = 0, None
        while True:
            n, after = _run_batch(stage, now, batch, supervisors, after)
            total += n
            if n < batch:
                break
        counts[stage.name] = total
    if any(counts.values()):
        log.info("case SLA sweep at %s: %s", now.isoformat(), counts)
    return counts
