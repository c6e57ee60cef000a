"""Periodic tasks: discovery of ``linli.<app>.schedules`` and an idempotent enqueue loop.

An app declares its periodic work in ``linli/<app>/schedules.py``::

    SCHEDULES = [("cases.sla_sweep", "linli.cases.tasks.sweep_overdue", 60)]

(name, dotted path of a ``django.tasks`` task without required arguments, interval in seconds).

Time is cut into slots of ``every`` seconds (slot = epoch seconds // every). On each tick the
scheduler claims the *current* slot of every schedule by inserting ``ScheduleSlot(name, slot)`` —
unique in the database — and enqueues the task in the same transaction. Several scheduler
processes, or one restarted in the middle of a slot, therefore enqueue each slot exactly once (with
the database task backend the claim and the task row commit together). Slots missed while no
scheduler ran are skipped: after downtime each task runs once, for the current slot — no
thundering herd. The tasks themselves must be idempotent (a worker may retry them).
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.tasks import Task
from django.utils import timezone
from django.utils.module_loading import import_string

log = logging.getLogger("linli.schedule")
KEEP = dt.timedelta(days=1)  # slot rows kept this long (pruned hourly)
MIN_EVERY = 5


class ScheduleError(ValueError):
    """A ``SCHEDULES`` entry that cannot run: bad shape, unknown task, required arguments."""


@dataclass(frozen=True)
class Schedule:
    name: str
    path: str
    every: int  # seconds

    def slot(self, now: dt.datetime) -> int:
        return int(now.timestamp()) // self.every

    def slot_start(self, slot: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(slot * self.every, tz=dt.UTC)

    def task(self) -> Task:
        return _resolve(self.path)


def _resolve(path: str) -> Task:
    try:
        obj = import_string(path)
    except ImportError as exc:
        raise ScheduleError(f"{path}: cannot import ({exc})") from exc
    if not isinstance(obj, Task):
        raise ScheduleError(f"{path} is not a django.tasks task (decorate it with @task())")
    required = [p.name for p in inspect.signature(obj.func).parameters.values()
                if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if required:
        raise ScheduleError(f"{path} needs arguments {required}; a periodic task takes none")
    return obj


def parse(entries: Iterable, *, origin: str) -> list[Schedule]:
    out = []
    for entry in entries:
        if not (isinstance(entry, tuple | list) and len(entry) == 3):
            raise ScheduleError(f"{origin}: {entry!r} is not (name, 'dotted.task.path', every_seconds)")
        name, path, every = entry
        if not (isinstance(name, str) and name and len(name) <= 80):
            raise ScheduleError(f"{origin}: bad schedule name {name!r}")
        if not isinstance(path, str) or "." not in path:
            raise ScheduleError(f"{origin}: {name}: bad task path {path!r}")
        if not isinstance(every, int) or isinstance(every, bool) or every < MIN_EVERY:
            raise ScheduleError(f"{origin}: {name}: interval must be an integer ≥ {MIN_EVERY} seconds, got {every!r}")
        out.append(Schedule(name, path, every))
    return out


def discover(app_names: Iterable[str] | None = None) -> list[Schedule]:
    """Every ``<app>.schedules.SCHEDULES`` of the installed ``linli.*`` apps, validated (each task is
    importable and takes no required argument). Duplicate names are an error."""
    names = list(app_names) if app_names is not None else [a.name for a in apps.get_app_configs() if a.name.startswith("linli.")]
    found: dict[str, Schedule] = {}
    for app in names:
        module_name = f"{app}.schedules"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        for s in parse(getattr(module, "SCHEDULES", []), origin=module_name):
            if s.name in found:
                raise ScheduleError(f"schedule {s.name!r} declared twice ({found[s.name].path}, {s.path})")
            s.task()
            found[s.name] = s
    return sorted(found.values(), key=lambda s: s.name)


def claim(schedule: Schedule, now: dt.datetime, *, precheck: bool = True) -> bool:
    """Enqueue ``schedule``'s current slot unless some scheduler already did; True when we did.
    (``precheck`` only saves a failed INSERT; the unique key decides.)"""
    from .models import ScheduleSlot

    slot = schedule.slot(now)
    if precheck and ScheduleSlot.objects.filter(name=schedule.name, slot=slot).exists():
        return False
    try:
        with transaction.atomic():
            row = ScheduleSlot.objects.create(name=schedule.name, slot=slot, slot_at=schedule.slot_start(slot), task_path=schedule.path)
            result = schedule.task().enqueue()
            task_id = str(getattr(result, "id", "") or "")[:64]
            if task_id:
                ScheduleSlot.objects.filter(pk=row.pk).update(task_id=task_id)
    except IntegrityError:
        return False  # another scheduler claimed the slot between our check and insert
    log.info("scheduled %s slot %s (%s)", schedule.name, slot, schedule.path)
    return True


def prune(now: dt.datetime) -> int:
    from .models import ScheduleSlot

    return ScheduleSlot.objects.filter(slot_at__lt=now - KEEP).delete()[0]


def tick(schedules: Iterable[Schedule], now: dt.datetime | None = None) -> list[str]:
    """Claim the current slot of every schedule; returns the names enqueued now."""
    now = now or timezone.now()
    return [s.name for s in schedules if claim(s, now)]


def seconds_to_next_slot(schedules: Iterable[Schedule], now: dt.datetime) -> float:
    ts = now.timestamp()
    waits = [s.every - (ts % s.every) for s in schedules]
    return min(waits) if waits else 60.0


def run(schedules: list[Schedule], *, stop: threading.Event, max_sleep: float = 5.0) -> None:
    """Loop until ``stop`` is set: tick, then sleep until the next slot boundary (at most
    ``max_sleep`` seconds, so a slot claimed by nobody — e.g. the database was down — is retried
    soon). Database errors are logged and retried; the loop never dies of them."""
    last_prune: dt.datetime | None = None
    while not stop.is_set():
        now = timezone.now()
        try:
            tick(schedules, now)
            if last_prune is None or now - last_prune > dt.timedelta(hours=1):
                prune(now)
                last_prune = now
        except DatabaseError as exc:
            log.warning("scheduler tick failed (%s); retrying", exc)
            for conn in connections.all():
                conn.close()
        stop.wait(min(max_sleep, seconds_to_next_slot(schedules, timezone.now()) + 0.05))
