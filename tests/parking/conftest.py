from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from linli.parking import decision
from linli.parking import services as svc
from linli.parking.perms import ParkingPerm as P
from tests import factories as f

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


@pytest.fixture(autouse=True)
def _fresh_index(settings):
    settings.LINLI_PARKING_CHECK_MS = 0
    decision.invalidate()
    yield
    decision.invalidate()


@pytest.fixture
def lot_site(tree):
    est = f.estate(tree.community_a)
    est_b = f.estate(tree.community_b)
    manager = f.account(perms=list(P), scope=tree.community_a)
    other = f.account(perms=list(P), scope=tree.community_b)
    rule = svc.rule_create(actor=manager, region=tree.community_a, name="标准", free_minutes=15, first_minutes=60, first_fen=500,
                           step_minutes=60, step_fen=200, daily_cap_fen=3000)
    lot, token = svc.lot_create(actor=manager, code="P-A", name="甲小区地库", capacity=10, estate=est, rule=rule)
    lot_b, token_b = svc.lot_create(actor=other, code="P-B", name="乙小区地库", capacity=5, estate=est_b)
    zone = svc.zone_create(actor=manager, lot=lot, code="B1", name="负一层", capacity=3)
    owner = f.person(tree.grid_a)
    resident = f.account(person=owner)
    space = svc.space_create(actor=manager, lot=lot, number="B1-001", kind="owned", zone=zone, owner=owner)
    return SimpleNamespace(tree=tree, est=est, manager=manager, other=other, rule=rule, lot=lot, token=token, lot_b=lot_b,
                           token_b=token_b, zone=zone, owner=owner, resident=resident, space=space)
