"""Demo data for grid patrols (C6): routes, today's tasks and a week of check-ins for the demo grid workers."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.orgs.models import Account
from linli.patrols import selectors as sel
from linli.patrols.models import CheckIn, PatrolRoute, PatrolTask


@pytest.mark.django_db
def test_C6_demo_has_routes_todays_tasks_and_past_checkins():
    call_command("demo", persons=300, seed=7, stdout=StringIO())
    grid = Account.objects.get(username="grid")
    routes = PatrolRoute.objects.filter(region__in=grid.role_assignments.values("region"))
    assert routes.count() == 2 and all(r.checkpoints.count() >= 2 for r in routes)
    today = timezone.localdate()
    assert PatrolTask.objects.filter(worker=grid, date=today, status="planned").count() == 2
    assert CheckIn.objects.filter(task__worker=grid).count() > 10
    assert PatrolTask.objects.filter(status="missed").exists() and PatrolTask.objects.filter(status="done").exists()
    assert Account.objects.filter(username="grid2").exists()
    for cp in CheckIn.objects.filter(off_route=False).select_related("checkpoint")[:20]:
        assert cp.distance_m <= cp.checkpoint.tolerance_m
    community = Account.objects.get(username="community")
    day = today - timezone.timedelta(days=1)
    assert {t["worker"].username for t in sel.tracks(actor=community, day=day)} == {"grid", "grid2"}
    c = Client()
    c.force_login(grid)
    html = c.get(reverse("console:patrols_home")).content.decode()
    assert "我的今日任务" in html and routes.first().name in html
