"""Background tasks of the iot domain (idempotent; schedule ``offline_sweep_task`` every minute)."""

from __future__ import annotations

from django.tasks import task

from .services import offline_sweep


@task()
def offline_sweep_task() -> dict[str, int]:
    return offline_sweep()


@task()
def command_publish_task(command_id: int) -> bool:
    """Publish a command to its device over MQTT (no-op when already delivered or answered)."""
    from .rpc import publish_command

    try:
        return publish_command(command_id)
    except OSError:
        return False  # broker unreachable: the command stays pending (HTTP poll or timeout)


@task()
def command_timeouts_task() -> int:
    from .services import command_timeouts

    return command_timeouts()


@task()
def alarm_escalation_task() -> dict:
    """Escalate alarms nobody acknowledged in time (D4); idempotent, safe to run concurrently."""
    from .escalation import escalation_sweep

    return escalation_sweep()


@task()
def rollup_task() -> dict:
    """Incremental telemetry rollups (5 min / 1 h / 1 d) from the watermark (D6)."""
    from .rollups import rollup_run

    return rollup_run().as_dict()


@task()
def retention_task() -> dict:
    """Retention per device type: drop old partitions, delete old raw rows and rollups (D6)."""
    from .rollups import retention_run

    return retention_run()
