"""Hand-offs from other domains into the case loop (C1): IoT alarms whose rule says a person must
act become cases.

``linli.iot`` writes an ``AlarmOutbox`` row (kind ``open_case``) in the alarm's transaction. This
module turns pending rows into cases through ``services.case_from_alarm`` and stamps the row
(``processed_at``, ``result`` = ``case:<id>:<number>``). Two paths, both idempotent:

- a task enqueued when the transaction that wrote the row commits (a ``post_save`` hook on the
  outbox model: iot does not import cases) — one task for all the rows of that transaction;
- a periodic catch-up (``cases.alarm_intake`` in ``schedules.py``) for rows written by bulk inserts,
  while no worker ran, or whose processing failed.

An alarm that clears before anyone acted on its case is noted on the case the same two ways (a
hook on the alarm's save, and the catch-up).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone

from linli.core.errors import DomainError
from linli.core.oncommit import enqueue_batched

from . import services

log = logging.getLogger("linli.cases.integrations")
OPEN_CASE = "open_case"


def process_outbox_row(outbox_id: int) -> str:
    """Process one ``open_case`` outbox row; returns its ``result`` (empty when another worker holds
    or already processed it)."""
    from linli.iot.models import AlarmOutbox

    with transaction.atomic():
        row = AlarmOutbox.objects.select_for_update(skip_locked=True).filter(pk=outbox_id, kind=OPEN_CASE, processed_at__isnull=True).first()
        if row is None:
            return ""
        try:
            with transaction.atomic():
                case = services.case_from_alarm(alarm_id=row.alarm_id)
        except DomainError as exc:  # e.g. no category configured: keep the row pending, retried by the catch-up
            row.result = f"error:{exc.code}"[:200]
            row.save(update_fields=["result"])
            log.warning("alarm %s could not become a case: %s", row.alarm_id, exc.code)
            return row.result
        row.processed_at, row.result = timezone.now(), f"case:{case.pk}:{case.number}"
        row.save(update_fields=["processed_at", "result"])
        return row.result


def process_outbox(*, limit: int = 500) -> dict[str, int]:
    """Pending ``open_case`` rows → cases (oldest first), then comments for alarms that cleared
    before anyone acted. Safe to run concurrently and repeatedly."""
    from linli.iot.models import AlarmOutbox, AlarmStatus

    from .models import AlarmCase

    pending = list(AlarmOutbox.objects.filter(kind=OPEN_CASE, processed_at__isnull=True).order_by("id").values_list("id", flat=True)[:limit])
    filed = sum(1 for pk in pending if process_outbox_row(pk).startswith("case:"))
    cleared = list(AlarmCase.objects.filter(clear_handled_at__isnull=True, alarm__status=AlarmStatus.CLEARED)
                   .order_by("alarm_id").values_list("alarm_id", flat=True)[:limit])
    noted = sum(1 for alarm_id in cleared if services.case_note_alarm_cleared(alarm_id=alarm_id) is not None)
    return {"filed": filed, "pending": len(pending) - filed, "cleared_noted": noted}


def case_links(alarm_ids: list[int]) -> dict[int, dict]:
    """Alarm id → {"id", "number", "status"} of its case, for showing the link on alarms (one query)."""
    from .models import AlarmCase

    rows = AlarmCase.objects.filter(alarm_id__in=alarm_ids).values_list("alarm_id", "case_id", "case__number", "case__status")
    return {a: {"id": c, "number": n, "status": s} for a, c, n, s in rows}


def _outbox_written(sender, instance, created: bool, raw: bool = False, **kw) -> None:
    if created and not raw and instance.kind == OPEN_CASE:
        from .tasks import file_alarm_cases

        enqueue_batched(file_alarm_cases, instance.pk)  # one task per committing transaction


def _alarm_saved(sender, instance, created: bool, raw: bool = False, **kw) -> None:
    from linli.iot.models import AlarmStatus

    if not created and not raw and instance.status == AlarmStatus.CLEARED:
        from .tasks import note_alarms_cleared

        enqueue_batched(note_alarms_cleared, instance.pk)


def connect() -> None:
    from linli.iot.models import Alarm, AlarmOutbox

    post_save.connect(_outbox_written, sender=AlarmOutbox, dispatch_uid="cases-alarm-outbox")
    post_save.connect(_alarm_saved, sender=Alarm, dispatch_uid="cases-alarm-cleared")
