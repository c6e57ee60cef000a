"""Periodic parking work (format in BRIEF: name, task path, every seconds)."""

SCHEDULES = [
    ("parking.sharing_sweep", "linli.parking.tasks.sharing_sweep_task", 60),
    ("parking.charging_sweep", "linli.parking.tasks.charging_sweep_task", 60),
]
