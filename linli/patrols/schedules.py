"""Periodic work of grid patrols (see BRIEF): the missed-task sweep every five minutes."""

SCHEDULES = [("patrols.sweep_missed", "linli.patrols.tasks.sweep_missed_tasks", 300)]
