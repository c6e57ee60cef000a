"""Background tasks of access control (idempotent; scheduled in ``schedules.py``)."""

from __future__ import annotations

from django.tasks import task

from .services import visitors_anonymise


@task()
def visitor_retention_task() -> int:
    """A4/H6: anonymise visitor records past their retention period (safe to run any number of times)."""
    return visitors_anonymise()
