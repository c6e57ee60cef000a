"""Periodic work of the iot domain (run by ``manage.py scheduler``; every task is idempotent)."""

SCHEDULES = [
    ("iot.offline_sweep", "linli.iot.tasks.offline_sweep_task", 60),
    ("iot.command_timeouts", "linli.iot.tasks.command_timeouts_task", 15),
    ("iot.alarm_escalation", "linli.iot.tasks.alarm_escalation_task", 30),
    ("iot.rollups", "linli.iot.tasks.rollup_task", 60),  # history rollups 5 min / 1 h / 1 d (D6)
    ("iot.retention", "linli.iot.tasks.retention_task", 3600),  # retention per device type (D6)
]
