"""An estate in community A (two buildings, two units, gates at every level) and one in community B."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from linli.access import decision
from linli.access import services as svc
from linli.access.perms import AccessPerm
from linli.places.models import Unit
from tests import factories as f

ALL_ACCESS = [p.value for p in AccessPerm]


@pytest.fixture(autouse=True)
def _fresh_access_index(settings):
    """Tests run inside one transaction (no on_commit): read the change log on every decision."""
    settings.LINLI_ACCESS_CHECK_MS = 0
    settings.LINLI_ACCESS_EXTERNAL_CHECK_S = 0
    decision.invalidate()
    yield
    decision.invalidate()


@dataclass
class Site:
    tree: Any
    estate: Any
    b1: Any
    b2: Any
    u11: Any
    u12: Any
    h11: Any  # building 1, unit 1
    h12: Any  # building 1, unit 2
    h2: Any  # building 2
    owner: Any
    tenant: Any
    other: Any  # lives in building 2
    g_estate: Any
    g_b1: Any
    g_u11: Any
    g_b2: Any
    main_gate: Any
    b1_door: Any
    u11_door: Any
    b2_door: Any
    tokens: dict
    manager: Any
    manager_b: Any
    estate_b: Any
    gate_b: Any

    def decide(self, gate, kind="card", value="", at=None):
        return decision.decide(gate_code=gate.code, credential_kind=kind, credential_value=value, at=at)


def _house(b, u, number):
    from linli.places.models import House

    return House.objects.create(building=b, unit=u, region=b.region, number=number, floor=1, address=f"{b.number}-{u.number}-{number}")


@pytest.fixture
def site(tree) -> Site:
    mgr = f.account("mgr_a", perms=ALL_ACCESS + ["person.view", "place.view"], scope=tree.community_a)
    mgr_b = f.account("mgr_b", perms=ALL_ACCESS + ["person.view", "place.view"], scope=tree.community_b)
    est = f.estate(tree.community_a)
    b1, b2 = f.building(est, tree.grid_a, "1"), f.building(est, tree.grid_a, "2")
    u11 = Unit.objects.create(building=b1, number="1")
    u12 = Unit.objects.create(building=b1, number="2")
    u21 = Unit.objects.create(building=b2, number="1")
    h11, h12, h2 = _house(b1, u11, "101"), _house(b1, u12, "201"), _house(b2, u21, "101")
    owner = f.person(tree.grid_a, name="王小明")
    tenant = f.person(tree.grid_a, name="李租客")
    other = f.person(tree.grid_a, name="赵邻居")
    f.residency(owner, h11, "owner")
    r = f.residency(tenant, h11, "tenant")
    r.lease_end = dt.date(2030, 6, 30)
    r.save()
    f.residency(other, h2, "owner")
    g_estate = svc.gate_group_create(actor=mgr, code="E-MAIN", name="南门", level="estate", estate=est)
    g_b1 = svc.gate_group_create(actor=mgr, code="B1", name="1号楼", level="building", estate=est, building=b1)
    g_u11 = svc.gate_group_create(actor=mgr, code="B1U1", name="1号楼1单元", level="unit", estate=est, building=b1, unit=u11)
    g_b2 = svc.gate_group_create(actor=mgr, code="B2", name="2号楼", level="building", estate=est, building=b2)
    toks = {}
    gates = []
    for code, g in (("main", g_estate), ("b1", g_b1), ("u11", g_u11), ("b2", g_b2)):
        gate, raw = svc.gate_create(actor=mgr, code=code, name=code, group=g)
        toks[code] = raw
        gates.append(gate)
    est_b = f.estate(tree.community_b)
    gb_group = svc.gate_group_create(actor=mgr_b, code="EB-MAIN", name="乙小区大门", level="estate", estate=est_b)
    gate_b, toks["gb"] = svc.gate_create(actor=mgr_b, code="gb", name="gb", group=gb_group)
    return Site(tree, est, b1, b2, u11, u12, h11, h12, h2, owner, tenant, other, g_estate, g_b1, g_u11, g_b2, *gates, toks, mgr, mgr_b,
                est_b, gate_b)


EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def card(site: Site, person, number: str, house=None, **kw):
    kw.setdefault("valid_from", EPOCH)
    return svc.credential_issue(actor=site.manager, person=person, kind="card", house=house, value=number, **kw)


def consent(person, purpose: str):
    """The person grants consent themself, in the portal (H6)."""
    from linli.people.services import consent_grant

    return consent_grant(actor=resident(person), person=person, purpose=purpose)


def resident(person):
    """The person's own portal account (created on first use)."""
    from linli.orgs.models import Account

    return Account.objects.filter(person=person).first() or f.account(kind="resident", person=person)


def client_for(account):
    """A test client logged in as ``account`` (console or portal pages)."""
    from django.test import Client

    c = Client()
    c.force_login(account)
    return c
