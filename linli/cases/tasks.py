"""Background work of the case loop: notification delivery and the SLA sweep (idempotent)."""

from __future__ import annotations

from django.tasks import task


@task()
def deliver_notifications(ids: list[int]) -> int:
    from .notify import deliver

    return deliver(ids)


@task()
def sweep_overdue() -> dict[str, int]:
    """Warn / escalate overdue cases (C3). Safe to run twice or concurrently; schedule every minute."""
    from .sla import sweep

    return sweep()


@task()
def file_alarm_case(outbox_id: int) -> str:
    """Turn one IoT alarm outbox row into a case (enqueued when the row is committed; idempotent)."""
    from .integrations import process_outbox_row

    return process_outbox_row(outbox_id)


@task()
def file_alarm_cases(outbox_ids: list[int]) -> list[str]:
    """The outbox rows one transaction wrote (an ingest batch's alarms) → cases; idempotent."""
    from .integrations import process_outbox_row

    return [process_outbox_row(pk) for pk in outbox_ids]


@task()
def process_alarm_outbox() -> dict[str, int]:
    """Catch-up: pending alarm outbox rows → cases; cleared alarms noted on untouched cases. Every minute."""
    from .integrations import process_outbox

    return process_outbox()


@task()
def note_alarm_cleared(alarm_id: int) -> bool:
    """Note on its case that an alarm cleared before anyone acted (enqueued when the clear commits)."""
    from .services import case_note_alarm_cleared

    return case_note_alarm_cleared(alarm_id=alarm_id) is not None


@task()
def note_alarms_cleared(alarm_ids: list[int]) -> int:
    """Note on their cases that alarms cleared before anyone acted (one task per committing transaction)."""
    from .services import case_note_alarm_cleared

    return sum(1 for alarm_id in alarm_ids if case_note_alarm_cleared(alarm_id=alarm_id) is not None)
