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
