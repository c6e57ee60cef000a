"""Periodic work of access control, discovered by the scheduler (see BRIEF: plain tuples)."""

SCHEDULES = [
    ("access.visitor_retention", "linli.access.tasks.visitor_retention_task", 3600),
]
