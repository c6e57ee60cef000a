"""manage.py parking_demo on top of manage.py demo: content for every parking page (K1–K5), made by
the real services (sessions, decision log, alarms), and the demo property manager sees it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from linli.orgs.models import Account
from linli.parking.models import ParkingAlarm, ParkingEvent, ParkingLot, ParkingPass, ParkingSession

pytestmark = pytest.mark.django_db


def test_K1_K3_parking_demo_fills_the_dashboards(db):
    with pytest.raises(CommandError):
        call_command("parking_demo", stdout=StringIO())  # needs the base demo first
    call_command("demo", persons=300, seed=7, stdout=StringIO())
    call_command("parking_demo", stdout=StringIO())
    lot = ParkingLot.objects.get(code="DEMO-P1")
    assert lot.zones.count() == 3 and ParkingPass.objects.exists()
    assert ParkingEvent.objects.filter(allowed=True, direction="entry").count() > 10
    assert ParkingEvent.objects.filter(allowed=True, direction="exit").exists()
    assert set(ParkingAlarm.objects.values_list("kind", flat=True)) == {"flagged_plate", "pass_overuse"}
    assert ParkingSession.objects.filter(exit_at__isnull=True, zone__isnull=False).exists()
    c = Client()
    c.force_login(Account.objects.get(username="property"))
    page = c.get(reverse("console:parking_lot", args=[lot.pk])).content.decode()
    assert "今日逐小时在场车辆" in page and "一卡多车" in page
    out = StringIO()
    call_command("parking_demo", stdout=out)
    assert "已存在" in out.getvalue() and ParkingLot.objects.filter(code="DEMO-P1").count() == 1
