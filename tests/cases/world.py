"""Builders for case tests: the shared Tree, two departments, a property company, a grid
worker per grid, community workers for A and B, department handlers, supervisors and a resident."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from linli.cases.models import Category
from linli.cases.perms import CasePerm
from linli.orgs.models import Account, AccountKind, Organisation, OrgType, Role, RoleAssignment
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
P = CasePerm
# Points inside grid A and grid B (squares of 0.01° from (117.00, 36.65) and (117.01, 36.65)).
A_LAT, A_LNG = 36.655, 117.005
B_LAT, B_LNG = 36.655, 117.015


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


@dataclass
class World:
    tree: f.Tree
    cat: Category  # road damage, 72 working hours
    cat_parent: Category
    urgent: Category
    dept: Organisation
    dept2: Organisation
    property_co: Organisation
    grid_worker_a: Account
    grid_worker_b: Account
    worker_a: Account  # community A: view, intake, accept, dispatch, verify, close
    worker_b: Account
    handler: Account  # dept staff: view + handle over the district
    handler2: Account  # dept2 staff
    street_supervisor: Account
    district_supervisor: Account
    config_admin: Account
    hotline: Account
    resident: Account
    house_a: object

    def role_at(self, acc: Account, code: str, region) -> None:
        RoleAssignment.objects.create(account=acc, role=Role.objects.get(code=code), region=region)


COMMUNITY = [P.VIEW, P.INTAKE, P.ACCEPT, P.DISPATCH, P.VERIFY, P.CLOSE]


def ensure_seed() -> None:
    """Re-create the migrations' seed data (categories, calendar, case roles) when a transactional
    test elsewhere in the session flushed it; one query when it is there."""
    if Category.objects.filter(code="facility-road").exists():
        return
    import importlib

    from django.apps import apps

    importlib.import_module("linli.cases.migrations.0002_seed_calendar_categories").seed(apps, None)
    importlib.import_module("linli.cases.migrations.0003_case_roles").forwards(apps, None)
    importlib.import_module("linli.cases.migrations.0005_alarm_intake_calendar_years").seed(apps, None)


def make_world(t: f.Tree) -> World:
    ensure_seed()
    cat_parent = Category.objects.get(code="facility")
    cat = Category.objects.get(code="facility-road")
    urgent = Category.objects.get(code="facility-manhole")
    dept = f.organisation(t.district, OrgType.DEPARTMENT, "区城市管理局")
    dept2 = f.organisation(t.district, OrgType.DEPARTMENT, "区住房和城乡建设局")
    property_co = f.organisation(t.community_a, OrgType.PROPERTY_COMPANY, "甲物业公司")
    gw_role = f.role("grid_worker", ["case.view", "case.intake", "case.accept", "case.verify", "place.view", "person.view"])
    gw_a = f.account("gw_a")
    gw_b = f.account("gw_b")
    RoleAssignment.objects.create(account=gw_a, role=gw_role, region=t.grid_a)
    RoleAssignment.objects.create(account=gw_b, role=gw_role, region=t.grid_b)
    house_a = f.house(t.grid_a)
    person = f.person(t.grid_a, name="李四")
    f.residency(person, house_a)
    resident = f.account("resident1", kind=AccountKind.RESIDENT, person=person)
    return World(
        tree=t, cat=cat, cat_parent=cat_parent, urgent=urgent, dept=dept, dept2=dept2, property_co=property_co,
        grid_worker_a=gw_a, grid_worker_b=gw_b,
        worker_a=f.account("worker_a", perms=COMMUNITY, scope=t.community_a),
        worker_b=f.account("worker_b", perms=COMMUNITY, scope=t.community_b),
        handler=f.account("handler", perms=[P.VIEW, P.HANDLE], scope=t.district, organisation=dept),
        handler2=f.account("handler2", perms=[P.VIEW, P.HANDLE], scope=t.district, organisation=dept2),
        street_supervisor=f.account("sup_street", perms=[P.VIEW, P.SUPERVISE], scope=t.street),
        district_supervisor=f.account("sup_district", perms=[P.VIEW, P.SUPERVISE], scope=t.district),
        config_admin=f.account("config", perms=[P.VIEW, P.CONFIG], scope=t.district),
        hotline=f.account("hotline", perms=[P.VIEW, P.INTAKE, "person.view"], scope=t.city),
        resident=resident, house_a=house_a,
    )


def report(w: World, *, actor=None, lat=A_LAT, lng=A_LNG, category=None, channel="patrol", **kw):
    from linli.cases.services import case_report

    return case_report(actor=actor or w.grid_worker_a, channel=channel, category=category or w.cat, title=kw.pop("title", "人行道破损"),
                       description=kw.pop("description", "解放路人行道砖块松动"), lat=lat, lng=lng, **kw)
