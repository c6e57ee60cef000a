"""Routing (C2): location → grid → grid worker; category + region → responsible organisation.

The routing table is data (``RoutingRule``), held in process by ``linli.cases.config`` and reloaded
when it changes. For a case in region R of category C the candidate rules are those whose region is
R or an ancestor of R and whose category is C, an ancestor of C, or empty (any). The most specific
region wins (deepest path), then the most specific category.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from linli.orgs.models import Account, Organisation, RoleAssignment
from linli.places.models import Region

from . import config
from .models import Category, Priority, RoutingRule

GRID_WORKER_ROLE = "grid_worker"


@dataclass(frozen=True)
class Route:
    organisation: Organisation | None
    rule: RoutingRule | None
    time_limit_hours: int
    priority: str
    working_hours: bool


def ancestor_paths(path: str) -> list[str]:
    """Materialised paths of the region and all its ancestors (treebeard steplen)."""
    step = Region.steplen
    return [path[:i] for i in range(step, len(path) + 1, step)]


def find_rule(*, region: Region, category: Category) -> RoutingRule | None:
    """From the in-process routing table (``config.snapshot()``, reloaded when the table changes):
    the deepest region first, then the category itself, its ancestors, and finally "any"."""
    snap = config.snapshot()
    candidates = [*snap.lineage(category.pk), None]
    for path in reversed(ancestor_paths(region.path)):
        for category_id in candidates:
            rule = snap.rules.get((path, category_id))
            if rule is not None:
                return rule
    return None


def route(*, region: Region, category: Category) -> Route:
    rule = find_rule(region=region, category=category)
    hours = (rule.time_limit_hours if rule and rule.time_limit_hours else None) or category.time_limit_hours
    priority = (rule.priority if rule and rule.priority else None) or category.priority
    if category.is_urgent and priority in (Priority.LOW, Priority.NORMAL):
        priority = Priority.HIGH
    return Route(
        organisation=rule.organisation if rule else None,
        rule=rule,
        time_limit_hours=hours,
        priority=priority,
        working_hours=category.working_hours and not category.is_urgent,
    )


GRID_WORKER_TTL_S = 10.0  # setting LINLI_GRID_WORKER_TTL_S; 0 = always read
_workers_lock = threading.Lock()
_workers: dict[int, tuple[float, Account | None, dt.datetime | None]] = {}  # grid id → (read at, account, valid until)


def grid_worker_for(region: Region) -> Account | None:
    """The active account holding the grid_worker role scoped exactly to ``region`` (first granted).

    Every intake asks, so the answer is kept in process per grid for ``LINLI_GRID_WORKER_TTL_S``
    seconds. A role assignment or account saved or deleted in this process forgets them all at once;
    in another process the change shows within the TTL (a case filed meanwhile goes to the previous
    worker, who still sees it, or to nobody). An assignment whose ``valid_until`` passes is never
    returned from the copy."""
    ttl = float(getattr(settings, "LINLI_GRID_WORKER_TTL_S", GRID_WORKER_TTL_S))
    now = timezone.now()
    held = _workers.get(region.pk) if ttl > 0 else None
    if held is not None and time.monotonic() - held[0] <= ttl and (held[2] is None or held[2] > now):
        return copy.copy(held[1]) if held[1] is not None else None
    read_at = time.monotonic()
    ra = (
        RoleAssignment.objects.filter(region=region, role__code=GRID_WORKER_ROLE, account__is_active=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .select_related("account")
        .order_by("id")
        .first()
    )
    account = ra.account if ra else None
    if ttl > 0:
        with _workers_lock:
            _workers[region.pk] = (read_at, copy.copy(account) if account is not None else None, ra.valid_until if ra else None)
    return account


def forget_grid_workers(**_: object) -> None:
    """Drop the in-process grid → worker copies (connected to RoleAssignment/Account saves and deletes)."""
    with _workers_lock:
        _workers.clear()


for _model in (RoleAssignment, Account):
    post_save.connect(forget_grid_workers, sender=_model, dispatch_uid=f"cases.grid_workers.save.{_model.__name__}")
    post_delete.connect(forget_grid_workers, sender=_model, dispatch_uid=f"cases.grid_workers.delete.{_model.__name__}")
