"""In-process copy of the case loop's configuration (C2): categories, the routing table, the working
calendar and the alarm → category mapping — small tables read by every intake.

Freshness: one row (``ConfigVersion``) is bumped by every save/delete of those models (signals,
so the admin, the services and the API are all covered). ``snapshot()`` costs one indexed
primary-key query and reloads everything only when the version moved; a write in this process also
drops the copy at once. Writes that bypass the ORM (raw SQL, ``QuerySet.update``) must call
``bump()`` themselves.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save

from linli.core import context

from .models import AlarmCategoryRule, CalendarYear, Category, ConfigVersion, HolidayDay, RoutingRule

_lock = threading.Lock()
_current: Snapshot | None = None
_pinned = threading.local()


@dataclass(frozen=True)
class Snapshot:
    version: int
    parents: dict[int, int | None]  # category id → parent id
    rules: dict[tuple[str, int | None], RoutingRule]  # (region path, category id or None) → active rule
    holidays: dict[dt.date, bool]  # date → is_workday
    years: dict[int, bool]  # year → confirmed
    alarm_categories: dict[tuple[str, str], int] = field(default_factory=dict)  # (device category, rule code) → category id
    categories: dict[int, Category] = field(default_factory=dict)  # id → category (active or not); hand out copies

    def lineage(self, category_id: int) -> list[int]:
        ids, node = [], category_id
        while node is not None and node not in ids:
            ids.append(node)
            node = self.parents.get(node)
        return ids


def _version() -> int | None:
    return ConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first()


def _load(version: int | None) -> Snapshot:
    rules = {
        (r.region.path, r.category_id): r
        for r in RoutingRule.objects.filter(is_active=True).select_related("region", "organisation")
    }
    return Snapshot(
        version=version if version is not None else -1,
        parents=dict(Category.objects.values_list("id", "parent_id")),
        rules=rules,
        holidays=dict(HolidayDay.objects.values_list("date", "is_workday")),
        years=dict(CalendarYear.objects.values_list("year", "confirmed")),
        alarm_categories={(d, r): c for d, r, c in AlarmCategoryRule.objects.values_list("device_category", "rule_code", "category_id")},
        categories={c.pk: c for c in Category.objects.all()},
    )


def snapshot() -> Snapshot:
    """The configuration as of the current version: one query when unchanged, and only the first
    time in a request (later calls in the same request — category lookup, then routing — reuse
    that check; a write in this process drops the copy, so it is re-read); none inside ``pinned()``."""
    global _current
    held = getattr(_pinned, "snap", None)
    if held is not None:
        return held
    request_id = context.current().request_id
    snap = _current
    if request_id and snap is not None and getattr(_pinned, "checked", None) == (request_id, snap.version):
        return snap
    version = _version()
    if not (snap is not None and version is not None and snap.version == version):
        snap = _load(version)
        with _lock:
            _current = snap if version is not None else None  # no version row: never cache
    if request_id and version is not None:
        _pinned.checked = (request_id, snap.version)
    return snap


@contextmanager
def pinned() -> Iterator[Snapshot]:
    """One consistent snapshot for a block (an intake reads routing and calendar from the same one)."""
    outer = getattr(_pinned, "snap", None)
    _pinned.snap = outer or snapshot()
    try:
        yield _pinned.snap
    finally:
        _pinned.snap = outer


def invalidate() -> None:
    global _current
    with _lock:
        _current = None


def bump() -> None:
    """Mark the configuration changed for every process (and drop this process's copy)."""
    invalidate()
    if not ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1):
        try:
            with transaction.atomic():
                ConfigVersion.objects.create(id=1, version=1)
        except IntegrityError:
            ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1)
    transaction.on_commit(invalidate)


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):  # loaddata
        return
    bump()


def connect() -> None:
    for model in (Category, RoutingRule, HolidayDay, CalendarYear, AlarmCategoryRule):
        post_save.connect(_changed, sender=model, dispatch_uid=f"cases-config-{model.__name__}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"cases-config-{model.__name__}-delete")
