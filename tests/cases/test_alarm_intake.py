"""IoT alarm → case (C1, channel iot): the outbox row written by the alarm becomes exactly one case,
categorised by data, located at the device, linked both ways; a clear before anyone acted is noted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from linli.cases import integrations
from linli.cases import services as svc
from linli.cases.models import AlarmCase, AlarmCategoryRule, Case, CaseEvent, Category, Notification
from linli.cases.tasks import process_alarm_outbox
from linli.iot import services as iot_services
from linli.iot.models import Alarm, AlarmOutbox, AlarmStatus
from tests import factories as f
from tests.iot.helpers import device, send

from .world import A_LAT, A_LNG

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seeded")]


def smoke_alarm(world, django_capture_on_commit_callbacks, *, run_hooks: bool = True):
    dev, _ = device(world.tree.grid_a, "smoke_detector", lat=A_LAT, lng=A_LNG, location_note="3号楼2单元楼道")
    with django_capture_on_commit_callbacks(execute=run_hooks):
        assert send(dev, {"smoke": 0.5}).alarms_raised == 1
    return dev, Alarm.objects.get(device=dev)


def test_C1_alarm_whose_rule_needs_a_person_becomes_one_iot_case(world, django_capture_on_commit_callbacks):
    dev, alarm = smoke_alarm(world, django_capture_on_commit_callbacks)  # the on-commit task files it
    case = Case.objects.get(channel="iot")
    assert case.external_ref == f"alarm:{alarm.pk}"
    assert case.category.code == "safety-fire"  # smoke → 消防隐患 (AlarmCategoryRule data)
    assert (case.region_id, case.lat, case.lng) == (world.tree.grid_a.pk, A_LAT, A_LNG)
    assert case.address == "3号楼2单元楼道" and "烟雾报警" in case.title and dev.serial in case.description
    assert case.assigned_account == world.grid_worker_a and case.intake_by is None
    assert not case.working_hours  # urgent category: natural hours
    row = AlarmOutbox.objects.get(alarm=alarm)
    assert row.processed_at and row.result == f"case:{case.pk}:{case.number}"
    assert AlarmCase.objects.get(alarm=alarm).case == case
    created = CaseEvent.objects.get(case=case, kind="created")
    assert created.data["alarm"] == alarm.pk and created.data["alarm_rule"] == "smoke"
    assert Notification.objects.filter(case=case, recipient=world.grid_worker_a, kind="assigned").exists()


def test_C1_alarm_case_is_idempotent_however_often_it_is_processed(world, django_capture_on_commit_callbacks):
    _, alarm = smoke_alarm(world, django_capture_on_commit_callbacks, run_hooks=False)  # no worker ran
    assert not Case.objects.exists()
    assert process_alarm_outbox.enqueue().return_value == {"filed": 1, "pending": 0, "cleared_noted": 0}  # the periodic catch-up
    assert integrations.process_outbox() == {"filed": 0, "pending": 0, "cleared_noted": 0}
    row = AlarmOutbox.objects.get(alarm=alarm)
    assert integrations.process_outbox_row(row.pk) == ""
    first = svc.case_from_alarm(alarm_id=alarm.pk)
    assert svc.case_from_alarm(alarm_id=alarm.pk) == first
    assert Case.objects.filter(channel="iot").count() == 1


def test_C1_alarm_category_mapping_is_data_rule_specific_first(world):
    assert svc.alarm_category(device_category="camera_ai", rule_code="ebike_in_lift").code == "safety-fire"
    assert svc.alarm_category(device_category="camera_ai", rule_code="unknown_rule").code == "iot-alarm"  # no row: fallback
    assert svc.alarm_category(device_category="gas", rule_code="gas_leak").code == "iot-alarm"
    AlarmCategoryRule.objects.create(device_category="gas", rule_code="", category=Category.objects.get(code="safety"))
    assert svc.alarm_category(device_category="gas", rule_code="gas_leak").code == "safety"  # the in-process copy reloaded
    AlarmCategoryRule.objects.create(device_category="gas", rule_code="gas_leak", category=Category.objects.get(code="safety-fire"))
    assert svc.alarm_category(device_category="gas", rule_code="gas_leak").code == "safety-fire"


def test_C1_alarm_without_any_configured_category_stays_pending_with_a_reason(world, django_capture_on_commit_callbacks):
    Category.objects.filter(code="iot-alarm").update(is_active=False)
    Category.objects.filter(code="safety-fire").update(is_active=False)
    _, alarm = smoke_alarm(world, django_capture_on_commit_callbacks)
    row = AlarmOutbox.objects.get(alarm=alarm)
    assert row.processed_at is None and row.result == "error:case.alarm_category_missing"
    Category.objects.filter(code="safety-fire").update(is_active=True)
    assert integrations.process_outbox()["filed"] == 1  # fixed configuration: the catch-up files it


def test_C1_alarm_cleared_before_anyone_acted_is_noted_on_the_case_once(world, django_capture_on_commit_callbacks):
    dev, alarm = smoke_alarm(world, django_capture_on_commit_callbacks)
    case = Case.objects.get(channel="iot")
    with django_capture_on_commit_callbacks(execute=True):
        send(dev, {"smoke": 0.01})  # back to normal: auto clear → the on-commit task notes it
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.CLEARED
    assert integrations.process_outbox()["cleared_noted"] == 0  # the catch-up finds it done
    notes = CaseEvent.objects.filter(case=case, kind="commented")
    assert notes.count() == 1 and "自动清除" in notes.get().note and notes.get().actor is None
    case.refresh_from_db()
    assert case.status == "reported" and case.event_seq == 2


def test_C1_alarm_cleared_after_someone_acted_leaves_the_case_alone(world, django_capture_on_commit_callbacks):
    _, alarm = smoke_alarm(world, django_capture_on_commit_callbacks)
    case = svc.case_accept(actor=world.worker_a, case=Case.objects.get(channel="iot"))
    admin = f.account("alarm_admin", superuser=True)
    iot_services.alarm_clear(actor=admin, alarm=alarm, note="已处置")  # no on-commit run here: the catch-up looks
    assert integrations.process_outbox()["cleared_noted"] == 0
    assert not CaseEvent.objects.filter(case=case, kind="commented").exists()
    assert AlarmCase.objects.get(alarm=alarm).clear_handled_at is not None  # not looked at again


def test_C1_alarm_cleared_by_hand_is_noted_by_the_catch_up_when_no_worker_ran(world, django_capture_on_commit_callbacks):
    _, alarm = smoke_alarm(world, django_capture_on_commit_callbacks)
    admin = f.account("alarm_admin", superuser=True)
    with django_capture_on_commit_callbacks(execute=False):
        iot_services.alarm_clear(actor=admin, alarm=alarm, note="误报")
    assert process_alarm_outbox.enqueue().return_value["cleared_noted"] == 1
    note = CaseEvent.objects.get(case__channel="iot", kind="commented").note
    assert "人工清除" in note


def test_C1_console_alarm_list_links_the_case(world, django_capture_on_commit_callbacks, client):
    _, alarm = smoke_alarm(world, django_capture_on_commit_callbacks)
    case = Case.objects.get(channel="iot")
    watcher = f.account("alarm_watch", perms=["alarm.view", "alarm.ack", "device.view", "case.view"], scope=world.tree.community_a)
    client.force_login(watcher)
    html = client.get(reverse("console:iot_alarms")).content.decode()
    assert case.number in html and reverse("console:cases_case", args=[case.pk]) in html
    assert integrations.case_links([alarm.pk]) == {alarm.pk: {"id": case.pk, "number": case.number, "status": "reported"}}
