"""Background tasks of the iot domain (idempotent; schedule ``offline_sweep_task`` every minute)."""

from __future__ import annotations

from django.tasks import task

from .services import offline_sweep


@task()
def offline_sweep_task() -> dict[str, int]:
    return offline_sweep()
