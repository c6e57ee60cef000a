"""The working calendar as data through the API (C2): an operator enters a year's holidays and 调休
days (e.g. 2027 once the State Council publishes it); until confirmed, deadlines fall back visibly."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from linli.audit.models import AuditEntry
from linli.cases.models import CalendarYear, HolidayDay
from tests import factories as f

from .world import local, report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seeded")]


def test_C2_calendar_year_shows_the_seeded_days_and_the_explicit_fallback(world, api_as):
    r = api_as(world.worker_a).get("cases/calendar/2027")
    assert r.status_code == 200
    body = r.json()
    assert body["confirmed"] is False and "周一至周五" in body["fallback"]
    assert any(d["date"] == "2027-02-06" and not d["is_workday"] for d in body["days"])  # statutory 春节 day
    assert api_as(world.worker_a).get("cases/calendar/2026").json()["fallback"] == ""
    assert api_as(world.resident).get("cases/calendar/2027").status_code == 403


def test_C2_operator_enters_a_year_and_deadlines_use_it(world, api_as):
    root_admin = f.account("calendar_admin", perms=["case.view", "case.config"], scope=world.tree.city)
    days = [{"date": "2027-01-01", "is_workday": False, "name": "元旦"}, {"date": "2027-01-04", "is_workday": False, "name": "元旦"},
            {"date": "2027-01-09", "is_workday": True, "name": "元旦调休上班"}]
    r = api_as(root_admin).put("cases/calendar/2027", {"days": days, "confirmed": True, "source": "国务院办公厅通知（示例录入）"})
    assert r.status_code == 200, r.content
    assert r.json()["confirmed"] is True and [d["date"] for d in r.json()["days"]] == ["2027-01-01", "2027-01-04", "2027-01-09"]
    assert set(HolidayDay.objects.filter(date__year=2027).values_list("date", flat=True)) == {
        dt.date(2027, 1, 1), dt.date(2027, 1, 4), dt.date(2027, 1, 9)}  # replaced, not merged
    assert CalendarYear.objects.get(year=2027).confirmed
    assert AuditEntry.objects.filter(action="case.calendar.set", object_id="2027").exists()
    with time_machine.travel(local(2027, 1, 8, 17, 0), tick=False):  # Fri 17:00 + 1 h → Sat 9 Jan is a working day
        from linli.cases.calendar import add_working_hours

        assert add_working_hours(local(2027, 1, 8, 17, 0), [1]) == [local(2027, 1, 9, 9, 0)]
        case = report(world)
    assert "calendar_provisional" not in case.events.get(kind="created").data


@pytest.mark.parametrize("day, code", [
    ({"date": "2028-01-01", "is_workday": False}, "calendar.day_outside_year"),
    ({"date": "2027-01-05", "is_workday": True}, "calendar.day_redundant"),  # a Tuesday is a working day anyway
    ({"date": "2027-01-09", "is_workday": False}, "calendar.day_redundant"),  # a Saturday is off anyway
])
def test_C2_bad_calendar_days_are_refused_and_nothing_changes(world, api_as, day, code):
    root_admin = f.account("calendar_admin", perms=["case.view", "case.config"], scope=world.tree.city)
    before = set(HolidayDay.objects.filter(date__year=2027).values_list("date", flat=True))
    r = api_as(root_admin).put("cases/calendar/2027", {"days": [day], "confirmed": True})
    assert r.status_code == 422 and r.json()["code"] == code
    assert set(HolidayDay.objects.filter(date__year=2027).values_list("date", flat=True)) == before
    dup = {"date": "2027-01-04", "is_workday": False}
    assert api_as(root_admin).put("cases/calendar/2027", {"days": [dup, dup], "confirmed": False}).json()["code"] == "calendar.day_duplicate"


def test_C2_only_a_city_wide_configurator_edits_the_calendar(world, api_as):
    body = {"days": [], "confirmed": False}
    assert api_as(world.config_admin).put("cases/calendar/2027", body).status_code == 403  # case.config over a district only
    assert api_as(world.worker_a).put("cases/calendar/2027", body).status_code == 403
    assert CalendarYear.objects.get(year=2027).confirmed is False
