"""Intake cost (C1) and the in-process configuration (C2): a constant, small number of queries per
report, the routing table and calendar reloaded when they change, explicit calendar fallback."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from linli.cases import config
from linli.cases.models import CalendarYear, CaseEvent, HolidayDay, RoutingRule

from .world import A_LAT, A_LNG, local, report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seeded")]

BODY = {"channel": "hotline", "title": "路面破损", "description": "坑洼", "lat": A_LAT, "lng": A_LNG, "reporter_contact": "13912345678"}


def test_C1_intake_through_the_api_runs_a_constant_small_number_of_queries(world, api_as, django_assert_max_num_queries):
    api = api_as(world.hotline)
    body = {**BODY, "category_id": world.cat.pk}
    assert api.post("cases", body).status_code == 201  # warm: the in-process routing table and calendar
    with CaptureQueriesContext(connection) as first:
        assert api.post("cases", body).status_code == 201
    RoutingRule.objects.create(region=world.tree.district, category=world.cat, organisation=world.dept)
    with CaptureQueriesContext(connection) as reload:
        assert api.post("cases", body).status_code == 201  # the routing table changed: one reload
    assert len(reload.captured_queries) == len(first.captured_queries) + 6  # rules, category tree, categories, holidays, years, alarm map
    for _ in range(3):
        with django_assert_max_num_queries(len(first.captured_queries)):
            r = api.post("cases", body)
        assert r.status_code == 201 and r.json()["assigned_org"]["id"] == world.dept.pk
    sqls = " ".join(q["sql"] for q in first.captured_queries)
    assert "cases_routingrule" not in sqls and "cases_holidayday" not in sqls  # served from the in-process copy
    assert len(first.captured_queries) <= 20, "\n".join(q["sql"][:120] for q in first.captured_queries)


def test_C2_routing_table_changes_reach_the_next_intake(world):
    assert report(world).assigned_org is None
    rule = RoutingRule.objects.create(region=world.tree.community_a, category=world.cat_parent, organisation=world.dept)
    assert report(world).assigned_org == world.dept
    RoutingRule.objects.create(region=world.tree.grid_a, category=None, organisation=world.dept2)
    assert report(world).assigned_org == world.dept2  # the deeper region wins over the more specific category
    RoutingRule.objects.filter(region=world.tree.grid_a).delete()
    config.bump()  # a queryset delete sends no signal per row: writers that bypass save() bump by hand
    assert report(world).assigned_org == world.dept
    rule.is_active = False
    rule.save()
    assert report(world).assigned_org is None


def test_C2_another_process_changing_the_calendar_is_seen_through_the_version_row(world):
    start = local(2026, 11, 23, 8, 30)
    with time_machine.travel(start, tick=False):
        before = report(world).due_at
    snap = config.snapshot()
    HolidayDay.objects.bulk_create([HolidayDay(date=dt.date(2026, 11, 24), is_workday=False, name="停工")])  # no signal
    from django.db.models import F

    from linli.cases.models import ConfigVersion

    ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1)  # what another process's bump() does
    assert config._current is snap  # this process still holds the old copy …
    with time_machine.travel(start, tick=False):
        after = report(world).due_at
    # … until the next read sees the new version: one working day more (Fri 4 Dec → Mon 7 Dec)
    assert (before, after) == (local(2026, 12, 4, 14, 30), local(2026, 12, 7, 14, 30))


def test_C2_working_hour_deadlines_in_an_unconfirmed_year_are_flagged(world):
    assert CalendarYear.objects.get(year=2026).confirmed and not CalendarYear.objects.get(year=2027).confirmed
    with time_machine.travel(local(2026, 12, 1, 9, 0), tick=False):
        inside = report(world)  # 72 working hours: done in 2026
    assert "calendar_provisional" not in CaseEvent.objects.get(case=inside, kind="created").data
    with time_machine.travel(local(2026, 12, 24, 9, 0), tick=False):
        spanning = report(world)
    assert CaseEvent.objects.get(case=spanning, kind="created").data["calendar_provisional"] == [2027]
    CalendarYear.objects.filter(year=2027).update(confirmed=True)
    config.bump()
    with time_machine.travel(local(2026, 12, 24, 9, 0), tick=False):
        confirmed = report(world)
    assert "calendar_provisional" not in CaseEvent.objects.get(case=confirmed, kind="created").data


def test_C2_grid_worker_is_kept_per_grid_and_forgotten_when_roles_or_accounts_change(world, settings):
    """Every intake asks who the grid's worker is: the answer is kept in process (TTL), a role
    assignment or account written in this process drops it at once, and an expired assignment is
    never served from the copy."""
    from linli.cases import routing
    from linli.orgs import holders
    from linli.orgs.models import RoleAssignment
    from tests import factories as f

    settings.LINLI_GRID_WORKER_TTL_S = 60
    holders.forget_all()
    grid = world.tree.grid_a
    assert routing.grid_worker_for(grid) == world.grid_worker_a
    with CaptureQueriesContext(connection) as ctx:
        assert routing.grid_worker_for(grid) == world.grid_worker_a
    assert len(ctx.captured_queries) == 0  # served from the copy
    assert report(world).assigned_account == world.grid_worker_a

    world.grid_worker_a.is_active = False
    world.grid_worker_a.save()  # an account change in this process: forgotten at once
    assert routing.grid_worker_for(grid) is None
    assert report(world, actor=world.hotline).assigned_account is None

    newcomer = f.account("gw_new")
    ra = RoleAssignment.objects.create(account=newcomer, role=RoleAssignment.objects.filter(account=world.grid_worker_b).get().role,
                                       region=grid, valid_until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert routing.grid_worker_for(grid) == newcomer
    with time_machine.travel(ra.valid_until + dt.timedelta(seconds=1), tick=False):
        assert routing.grid_worker_for(grid) is None  # the assignment ran out: not served from the copy
    ra.delete()
    assert routing.grid_worker_for(grid) is None

    settings.LINLI_GRID_WORKER_TTL_S = 0  # TTL 0: every call reads
    with CaptureQueriesContext(connection) as ctx:
        routing.grid_worker_for(grid)
    assert len(ctx.captured_queries) == 1
