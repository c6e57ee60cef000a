"""Working-hours deadlines over weekends, holidays and 调休 days; the routing table (C2)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from linli.cases import calendar, routing
from linli.cases.models import Category, HolidayDay, RoutingRule

from .world import A_LAT, A_LNG, local, report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seeded")]


def due(start: dt.datetime, hours: float) -> dt.datetime:
    return calendar.add_working_hours(start, [hours])[0]


def test_C2_calendar_2026_schedule_is_seeded():
    off = set(HolidayDay.objects.filter(date__year=2026, is_workday=False).values_list("date", flat=True))
    on = set(HolidayDay.objects.filter(date__year=2026, is_workday=True).values_list("date", flat=True))
    assert len(off) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert on == {dt.date(2026, 1, 4), dt.date(2026, 2, 14), dt.date(2026, 2, 28), dt.date(2026, 5, 9), dt.date(2026, 9, 20),
                  dt.date(2026, 10, 10)}
    assert all(d.weekday() >= 5 for d in on)
    assert dt.date(2027, 2, 6) in set(HolidayDay.objects.filter(is_workday=False).values_list("date", flat=True))


def test_C2_working_hours_skip_the_weekend():
    # Friday 20 Nov 2026 16:30 + 2 working hours: 1 h on Friday, 1 h from Monday 08:30
    assert due(local(2026, 11, 20, 16, 30), 2) == local(2026, 11, 23, 9, 30)


def test_C2_working_hours_skip_lunch_and_start_in_the_next_period():
    assert due(local(2026, 11, 23, 11, 30), 1) == local(2026, 11, 23, 14, 0)
    assert due(local(2026, 11, 23, 12, 30), 1) == local(2026, 11, 23, 14, 30)  # reported at lunch
    assert due(local(2026, 11, 23, 20, 0), 7.5) == local(2026, 11, 24, 17, 30)  # one full working day


def test_C2_working_hours_skip_national_day_and_use_the_adjusted_saturday():
    # Wed 30 Sep 16:00 + 2 h: 1.5 h that day, 1–7 Oct off, Thu 8 Oct 08:30 + 0.5 h
    assert due(local(2026, 9, 30, 16, 0), 2) == local(2026, 10, 8, 9, 0)
    # Fri 9 Oct 17:00 + 1 h: 0.5 h, then Saturday 10 Oct is a working day (调休)
    assert due(local(2026, 10, 9, 17, 0), 1) == local(2026, 10, 10, 9, 0)
    # Spring Festival: Fri 13 Feb 17:00 + 1 h → Sat 14 Feb is a working day
    assert due(local(2026, 2, 13, 17, 0), 1) == local(2026, 2, 14, 9, 0)
    # ... and Sat 14 Feb 17:00 + 1 h → 15–23 Feb off → Tue 24 Feb 09:00
    assert due(local(2026, 2, 14, 17, 0), 1) == local(2026, 2, 24, 9, 0)


def test_C2_calendar_is_data_and_the_working_day_is_configurable(settings):
    HolidayDay.objects.create(date=dt.date(2026, 11, 23), is_workday=False, name="测试停工")
    assert due(local(2026, 11, 23, 9, 0), 1) == local(2026, 11, 24, 9, 30)
    settings.LINLI_CASE_WORKDAY = "09:00-17:00"
    assert due(local(2026, 11, 24, 16, 0), 2) == local(2026, 11, 25, 10, 0)


def test_C2_sla_instants_plain_and_working():
    start = local(2026, 11, 23, 8, 30)
    warn, due_at, esc2 = calendar.sla_instants(start, 10, working=False)
    assert (warn - start, due_at - start, esc2 - start) == (dt.timedelta(hours=8), dt.timedelta(hours=10), dt.timedelta(hours=20))
    warn, due_at, esc2 = calendar.sla_instants(start, 10, working=True)  # 7.5 h per day
    assert warn == local(2026, 11, 24, 9, 0) and due_at == local(2026, 11, 24, 11, 0) and esc2 == local(2026, 11, 25, 15, 0)


def test_C2_most_specific_region_wins_then_category(world):
    w = world
    t = w.tree
    city_any = RoutingRule.objects.create(region=t.city, organisation=w.dept2)
    assert routing.find_rule(region=t.grid_a, category=w.cat) == city_any
    district_parent = RoutingRule.objects.create(region=t.district, category=w.cat_parent, organisation=w.dept2)
    assert routing.find_rule(region=t.grid_a, category=w.cat) == district_parent
    district_exact = RoutingRule.objects.create(region=t.district, category=w.cat, organisation=w.dept, time_limit_hours=12)
    assert routing.find_rule(region=t.grid_a, category=w.cat) == district_exact
    # a deeper region beats a more specific category
    community_any = RoutingRule.objects.create(region=t.community_a, organisation=w.property_co)
    assert routing.find_rule(region=t.grid_a, category=w.cat) == community_any
    assert routing.find_rule(region=t.grid_b, category=w.cat) == district_exact
    community_any.is_active = False
    community_any.save()
    r = routing.route(region=t.grid_a, category=w.cat)
    assert r.organisation == w.dept and r.time_limit_hours == 12 and r.working_hours
    other = Category.objects.get(code="order-noise")
    assert routing.find_rule(region=t.grid_a, category=other) == city_any


def test_C2_report_routes_to_grid_worker_and_department(world):
    w = world
    RoutingRule.objects.create(region=w.tree.district, category=w.cat, organisation=w.dept, time_limit_hours=16)
    with time_machine.travel(local(2026, 11, 20, 16, 30), tick=False):  # Friday afternoon
        case = report(w, actor=w.hotline, channel="hotline", lat=A_LAT, lng=A_LNG)
    assert case.region == w.tree.grid_a and case.assigned_account == w.grid_worker_a and case.assigned_org == w.dept
    assert case.time_limit_hours == 16 and case.working_hours
    # 1 h Friday + 7.5 h Monday + 7.5 h Tuesday = 16 h → Tuesday 17:30
    assert case.due_at == local(2026, 11, 24, 17, 30)
    urgent = report(w, actor=w.hotline, channel="hotline", category=w.urgent)
    assert not urgent.working_hours and urgent.priority == "urgent"
    assert urgent.due_at - urgent.sla_started_at == dt.timedelta(hours=4)


def test_C2_no_rule_leaves_the_dispatcher_to_choose(world):
    w = world
    case = report(w, lat=36.655, lng=117.015, actor=w.grid_worker_b)
    assert case.assigned_org is None and case.region == w.tree.grid_b and case.assigned_account == w.grid_worker_b
    assert case.routing_rule is None
