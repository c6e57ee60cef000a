"""Routing (C2): location → grid → grid worker; category + region → responsible organisation.

The routing table is data (``RoutingRule``), held in process by ``linli.cases.config`` and reloaded
when it changes. For a case in region R of category C the candidate rules are those whose region is
R or an ancestor of R and whose category is C, an ancestor of C, or empty (any). The most specific
region wins (deepest path), then the most specific category.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from linli.orgs.holders import HolderCache
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


GRID_WORKERS = HolderCache("LINLI_GRID_WORKER_TTL_S", 10.0)  # grid id → account; 0 = always read


def grid_worker_for(region: Region) -> Account | None:
    """The active account holding the grid_worker role scoped exactly to ``region`` (first granted).

    Every intake asks, so the answer is kept per grid (``linli.orgs.holders``: for
    ``LINLI_GRID_WORKER_TTL_S`` seconds, dropped at once on role/assignment/account writes in this
    process, never served past the assignment's ``valid_until``). A case filed in another process
    meanwhile goes to the previous worker, who still sees it, or to nobody."""

    def load() -> tuple[Account | None, dt.datetime | None]:
        ra = (
            RoleAssignment.objects.filter(region=region, role__code=GRID_WORKER_ROLE, account__is_active=True)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=timezone.now()))
            .select_related("account")
            .order_by("id")
            .first()
        )
        return (ra.account, ra.valid_until) if ra else (None, None)

    account = GRID_WORKERS.get(region.pk, load)
    return copy.copy(account) if account is not None else None  # the kept instance is shared by every thread
