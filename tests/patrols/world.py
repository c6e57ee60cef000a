"""Builders for patrol tests (C6): the shared Tree, the seeded roles (grid workers with patrol.perform
in grids A and B, community workers with patrol.view + patrol.manage in communities A and B), a
street-level viewer, an account without patrol permissions, and a route of three checkpoints in A."""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.apps import apps

from linli.orgs.models import Account, Role, RoleAssignment
from linli.patrols import services as svc
from linli.patrols.models import PatrolRoute, PatrolTask
from tests import factories as f
from tests.cases.world import ensure_seed

SH = ZoneInfo("Asia/Shanghai")
# Grid A is the 0.01° square from (117.00, 36.65); B from (117.01, 36.65).
POINTS_A = [("东门", 36.652, 117.002), ("中心花园", 36.652, 117.006), ("北侧车棚", 36.656, 117.006)]
NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=SH)  # a Wednesday morning


@dataclass
class World:
    tree: f.Tree
    gw_a: Account
    gw_b: Account
    manager_a: Account
    manager_b: Account
    viewer: Account  # patrol.view over the street
    outsider: Account  # no patrol permission at all
    route_a: PatrolRoute

    def task(self, *, worker=None, day: dt.date | None = None, start=dt.time(8, 30), end=dt.time(11, 30), route=None) -> PatrolTask:
        return svc.task_plan(actor=self.manager_a, route=route or self.route_a, worker=worker or self.gw_a, date=day or NOW.date(),
                             start=start, end=end, now=NOW - dt.timedelta(hours=2))


def ensure_roles() -> None:
    """Seeded roles (cases and patrol migrations) — re-applied when a transactional test flushed them."""
    ensure_seed()
    role = Role.objects.filter(code="grid_worker").first()
    if role is None or "patrol.perform" not in (role.permissions or []):
        importlib.import_module("linli.orgs.migrations.0003_default_roles").create_roles(apps, None)
        importlib.import_module("linli.cases.migrations.0003_case_roles").forwards(apps, None)
        importlib.import_module("linli.patrols.migrations.0002_patrol_roles").forwards(apps, None)


def seeded(username: str, role_code: str, region) -> Account:
    acc = f.account(username)
    RoleAssignment.objects.create(account=acc, role=Role.objects.get(code=role_code), region=region)
    return acc


def make_world(t: f.Tree) -> World:
    ensure_roles()
    manager_a = seeded("manager_a", "community_worker", t.community_a)
    route = svc.route_create(actor=manager_a, region=t.grid_a, name="甲一网格日常巡查", tolerance_m=50,
                             checkpoints=[svc.CheckpointIn(n, lat, lng) for n, lat, lng in POINTS_A])
    return World(
        tree=t, gw_a=seeded("gw_a", "grid_worker", t.grid_a), gw_b=seeded("gw_b", "grid_worker", t.grid_b), manager_a=manager_a,
        manager_b=seeded("manager_b", "community_worker", t.community_b),
        viewer=f.account("viewer", perms=["patrol.view"], scope=t.street), outsider=f.account("outsider", perms=["place.view"], scope=t.city),
        route_a=route,
    )
