"""Background work of grid patrols (C6): the missed-task sweep (idempotent)."""

from __future__ import annotations

from django.tasks import task


@task()
def sweep_missed_tasks() -> int:
    """Mark tasks whose window closed without being finished as missed. Safe to run twice or at once."""
    from .services import sweep_missed

    return sweep_missed()
