"""The demo (``make run``) shows access control: gates with a day of events, visitors, a watch-list hit (A1–A5)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from linli.access.models import (
    AccessAlarm,
    AccessEvent,
    Credential,
    Gate,
    InviteStatus,
    VisitorInvite,
    WatchListEntry,
)
from linli.orgs.models import Account

pytestmark = pytest.mark.django_db


def test_A5_demo_loads_gates_events_visitors_and_watch_list():
    call_command("demo", persons=300, seed=7, stdout=StringIO())
    assert Gate.objects.count() == 3 and Credential.objects.filter(kind="card").exists()
    assert AccessEvent.objects.filter(result="allow").count() > 100 and AccessEvent.objects.filter(result="deny").exists()
    assert WatchListEntry.objects.count() == 2
    statuses = set(VisitorInvite.objects.values_list("status", flat=True))
    assert {InviteStatus.CONFIRMED, InviteStatus.PENDING} <= statuses
    assert AccessAlarm.objects.filter(acknowledged_at__isnull=True).count() == 1
    c = Client()
    c.force_login(Account.objects.get(username="property"))
    gate = Gate.objects.order_by("id").first()
    page = c.get(reverse("console:access_gate", args=[gate.pk])).content.decode()
    assert "data-gate-chart" in page
    assert "关注名单告警待确认" in c.get(reverse("console:access_gates")).content.decode()
    r = Client()
    r.force_login(Account.objects.get(username="resident"))
    assert "刘亲戚" in r.get(reverse("portal:access_home")).content.decode()
