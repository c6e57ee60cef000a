"""D4: escalation of unacknowledged alarms through the tiers, the live feed over Redis pub/sub, and
rule validation messages in Chinese (D3)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from linli.audit.models import AuditEntry
from linli.core import live
from linli.core.errors import Invalid
from linli.iot import rules
from linli.iot.escalation import escalation_sweep
from linli.iot.models import Alarm, AlarmNotification
from linli.iot.perms import IotPerm
from tests.conftest import need_service
from tests.factories import account
from tests.iot.helpers import device, send

T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
WATCH = [IotPerm.ALARM_VIEW, IotPerm.ALARM_ACK, IotPerm.DEVICE_VIEW]


def at(minutes: float) -> time_machine.travel:
    return time_machine.travel(T0 + dt.timedelta(minutes=minutes), tick=False)


@pytest.fixture
def tiers(tree):
    return {
        "grid": account(perms=WATCH, scope=tree.grid_a),
        "community": account(perms=WATCH, scope=tree.community_a),
        "street": account(perms=WATCH, scope=tree.street),
        "district": account(perms=WATCH, scope=tree.district),
        "other_community": account(perms=WATCH, scope=tree.community_b),
    }


def notified(alarm) -> set[int]:
    return set(AlarmNotification.objects.filter(alarm=alarm).values_list("account_id", flat=True))


def test_D4_unacknowledged_alarm_escalates_street_then_district(tree, tiers, settings):
    settings.LINLI_ALARM_ESCALATE_MIN = {"critical": 5, "major": 15}
    dev, _ = device(tree.grid_a, "gas_detector")  # gas_leak is critical
    with at(0):
        send(dev, {"gas_lel": 50})
    alarm = Alarm.objects.get(device=dev)
    assert alarm.severity == "critical" and alarm.escalation_level == 0
    assert notified(alarm) == {tiers["grid"].pk, tiers["community"].pk}
    with at(4.9):
        assert escalation_sweep() == {"escalated": 0}
    with at(5):
        assert escalation_sweep() == {"escalated": 1}
        assert escalation_sweep() == {"escalated": 0}  # idempotent within the same slot
    alarm.refresh_from_db()
    assert alarm.escalation_level == 1 and notified(alarm) == {tiers["grid"].pk, tiers["community"].pk, tiers["street"].pk}
    with at(10):
        assert escalation_sweep() == {"escalated": 1}
    alarm.refresh_from_db()
    assert alarm.escalation_level == 2 and alarm.next_escalation_at is None
    assert tiers["district"].pk in notified(alarm) and tiers["other_community"].pk not in notified(alarm)
    with at(60):
        assert escalation_sweep() == {"escalated": 0}  # top tier: nothing further
    assert AuditEntry.objects.filter(action="iot.alarm_escalate", object_id=str(alarm.pk)).count() == 2


def test_D4_acknowledged_alarm_never_escalates(tree, tiers, settings, api_as):
    settings.LINLI_ALARM_ESCALATE_MIN = {"critical": 5}
    dev, _ = device(tree.grid_a, "gas_detector")
    with at(0):
        send(dev, {"gas_lel": 50})
    alarm = Alarm.objects.get(device=dev)
    with at(1):
        r = api_as(tiers["grid"]).post(f"iot/alarms/{alarm.pk}/ack", {"note": "已到场"})
        assert r.status_code == 200 and r.json()["escalation_level"] == 0 and r.json()["next_escalation_at"] is None
    with at(30):
        assert escalation_sweep() == {"escalated": 0}
    assert tiers["street"].pk not in notified(alarm)


def test_D4_no_one_at_grid_level_starts_at_street(tree, settings):
    settings.LINLI_ALARM_ESCALATE_MIN = {"critical": 5}
    street = account(perms=WATCH, scope=tree.street)
    dev, _ = device(tree.grid_a, "gas_detector")
    with at(0):
        send(dev, {"gas_lel": 50})
    alarm = Alarm.objects.get(device=dev)
    assert alarm.escalation_level == 1 and notified(alarm) == {street.pk}
    assert alarm.next_escalation_at == T0 + dt.timedelta(minutes=5)


def test_D4_severity_without_delay_does_not_escalate(tree, tiers, settings):
    settings.LINLI_ALARM_ESCALATE_MIN = {"critical": 0}
    dev, _ = device(tree.grid_a, "gas_detector")
    with at(0):
        send(dev, {"gas_lel": 50})
    assert Alarm.objects.get(device=dev).next_escalation_at is None
    with at(120):
        assert escalation_sweep() == {"escalated": 0}


def test_D4_auto_clear_stops_escalation(tree, tiers, settings):
    settings.LINLI_ALARM_ESCALATE_MIN = {"critical": 5}
    dev, _ = device(tree.grid_a, "gas_detector")  # clears at ≤ 10
    with at(0):
        send(dev, {"gas_lel": 50})
    with at(1):
        send(dev, {"gas_lel": 2})
    alarm = Alarm.objects.get(device=dev)
    assert alarm.status == "cleared" and alarm.next_escalation_at is None
    with at(30):
        assert escalation_sweep() == {"escalated": 0}


def test_D3_rule_errors_name_the_condition_in_chinese_and_english():
    bad = [{"type": "threshold", "key": "t", "op": ">", "value": 30}, {"type": "threshold", "key": "t", "op": "~", "value": 1}]
    with pytest.raises(Invalid) as exc:
        rules.validate_conditions(bad, "all")
    err = exc.value
    with translation.override("zh-hans"):
        assert err.message.startswith("规则条件有误：第2个条件：比较符须为") and "op must" not in err.message
    with translation.override("en"):
        assert err.message.startswith("Invalid rule condition: condition 1: op must be one of")
    assert err.detail["condition"] == 1


# ---- live feed (Redis pub/sub → server-sent events) ---------------------------------------------
def test_D4_stream_is_204_without_live_backend(tree, settings):
    settings.LINLI_LIVE_REDIS_URL = ""
    c = Client()
    c.force_login(account(perms=WATCH, scope=tree.grid_a))
    assert c.get(reverse("console:iot_alarm_stream")).status_code == 204
    page = c.get(reverse("console:iot_alarms")).content.decode()
    assert "data-live-url" not in page and "linli/live.js" not in page  # the page only polls


def test_D4_stream_requires_alarm_permission(tree, settings):
    settings.LINLI_LIVE_REDIS_URL = "redis://127.0.0.1:6379/15"
    c = Client()
    c.force_login(account(perms=[IotPerm.DEVICE_VIEW], scope=tree.grid_a))
    assert c.get(reverse("console:iot_alarm_stream")).status_code == 403


def test_D4_live_feed_pushes_in_scope_alarms_only(tree, settings, django_capture_on_commit_callbacks):
    need_service("Redis", "127.0.0.1", 6379)
    settings.LINLI_LIVE_REDIS_URL = "redis://127.0.0.1:6379/15"
    settings.LINLI_LIVE_STREAM_SECONDS = 4
    viewer = account(perms=WATCH, scope=tree.community_a)
    c = Client()
    c.force_login(viewer)
    page = c.get(reverse("console:iot_alarms")).content.decode()
    assert f'data-live-url="{reverse("console:iot_alarm_stream")}" data-live-events="alarms"' in page and "linli/live.js" in page
    resp = c.get(reverse("console:iot_alarm_stream"))
    assert resp.status_code == 200 and resp["Content-Type"] == "text/event-stream"
    frames = iter(resp.streaming_content)
    assert next(frames).startswith(b"retry:")  # subscribed
    outside, _ = device(tree.grid_b, "gas_detector")
    inside, _ = device(tree.grid_a, "gas_detector")
    with django_capture_on_commit_callbacks(execute=True):
        send(outside, {"gas_lel": 60})
    with django_capture_on_commit_callbacks(execute=True):
        send(inside, {"gas_lel": 60})
    alarm = Alarm.objects.get(device=inside)
    got = b""
    for chunk in frames:
        if chunk.startswith(b"event: alarms"):
            got = chunk
            break
    assert got, "no live event arrived"
    event = json.loads(got.decode().split("data: ", 1)[1])
    assert event == {"kind": "raised", "id": alarm.pk, "region": tree.grid_a.path, "severity": "critical"}
    list(frames)  # the stream ends by itself and gives its slot back
    slot = live.try_acquire()
    assert slot is not None
    slot.release()


def test_D4_owner_organisation_staff_are_notified_from_the_start(tree, settings):
    from tests.factories import organisation

    settings.LINLI_ALARM_ESCALATE_MIN = {"critical": 5}
    company = organisation(tree.community_a, name="阳光物业")
    grid = account(perms=WATCH, scope=tree.grid_a)
    property_staff = account(perms=WATCH, scope=tree.street, organisation=company)  # street-level grant, owner org
    other_staff = account(perms=WATCH, scope=tree.street)
    dev, _ = device(tree.grid_a, "gas_detector", owner_org=company)
    with at(0):
        send(dev, {"gas_lel": 50})
    alarm = Alarm.objects.get(device=dev)
    assert alarm.escalation_level == 0 and notified(alarm) == {grid.pk, property_staff.pk}
    with at(5):
        escalation_sweep()
    assert other_staff.pk in notified(alarm)


def test_D4_who_is_told_first_is_kept_per_grid_and_forgotten_when_roles_change(tree, settings):
    """An alarm burst in one grid reads the tiers once (kept for LINLI_ALARM_ROLES_TTL_S); a role
    assignment or account written in this process drops the copy at once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from linli.iot import escalation

    settings.LINLI_ALARM_ROLES_TTL_S = 60
    escalation.reset_cache()
    path = tree.grid_a.path
    assert escalation.first_tier(path) == (0, [])
    street = account(perms=WATCH, scope=tree.street)  # a new grant: forgotten at once
    assert escalation.first_tier(path) == (1, [street.pk])
    with CaptureQueriesContext(connection) as ctx:
        level, accounts = escalation.first_tier(path)
        accounts.append(-1)  # callers get a copy
    assert len(ctx.captured_queries) == 0 and escalation.first_tier(path) == (1, [street.pk])
    street.is_active = False
    street.save()
    assert escalation.first_tier(path) == (0, [])
    settings.LINLI_ALARM_ROLES_TTL_S = 0
    with CaptureQueriesContext(connection) as ctx:
        escalation.first_tier(path)
    assert len(ctx.captured_queries) >= 1
