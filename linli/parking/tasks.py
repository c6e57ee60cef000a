"""Background tasks of parking (idempotent; declared in ``schedules.py``)."""

from __future__ import annotations

from django.tasks import task


@task()
def sharing_sweep_task() -> dict[str, int]:
    """K6: no-shows (space released, fee due) and overstays (next bookings flagged)."""
    from .sharing import sweep

    return sweep()


@task()
def charging_sweep_task() -> dict[str, int]:
    """K7: charges whose start command failed, unused charger slots."""
    from .charging import sweep

    return sweep()
