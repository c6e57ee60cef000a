"""Periodic work of the iot domain, discovered by the scheduler: (name, task, every seconds)."""

SCHEDULES = [
    ("iot.alarm_escalation", "linli.iot.tasks.alarm_escalation_task", 30),
]
