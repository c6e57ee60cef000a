"""Periodic work of the case loop (run by ``manage.py scheduler``; every task is idempotent)."""

SCHEDULES = [
    ("cases.sla_sweep", "linli.cases.tasks.sweep_overdue", 60),
    ("cases.alarm_intake", "linli.cases.tasks.process_alarm_outbox", 60),
]
