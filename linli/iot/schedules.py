"""Periodic work of the iot domain (run by ``manage.py scheduler``; every task is idempotent)."""

SCHEDULES = [
    ("iot.offline_sweep", "linli.iot.tasks.offline_sweep_task", 60),
    ("iot.command_timeouts", "linli.iot.tasks.command_timeouts_task", 15),
    ("iot.alarm_escalation", "linli.iot.tasks.alarm_escalation_task", 30),
]
