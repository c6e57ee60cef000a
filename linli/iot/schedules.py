"""Periodic work of the iot domain (discovered by the scheduler): history rollups every minute,
retention once an hour (both idempotent)."""

SCHEDULES = [
    ("iot.rollups", "linli.iot.tasks.rollup_task", 60),
    ("iot.retention", "linli.iot.tasks.retention_task", 3600),
]
