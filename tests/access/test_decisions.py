"""A2/A3: who may pass where and when, decided from the in-memory index."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

from linli.access import decision, tokens
from linli.access import services as svc
from linli.access.models import Audience
from linli.people.models import Residency
from tests import factories as f

from .conftest import EPOCH, card, consent, resident

SH = ZoneInfo("Asia/Shanghai")
MONDAY_8 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=SH)


def test_A2_estate_gate_for_every_resident_building_doors_only_for_that_building(site):
    card(site, site.owner, "A1001")
    card(site, site.other, "B2001")
    assert site.decide(site.main_gate, value="A1001").allowed
    assert site.decide(site.main_gate, value="B2001").allowed
    assert site.decide(site.b1_door, value="A1001").reason == "resident"
    d = site.decide(site.b1_door, value="B2001")
    assert (d.allowed, d.reason, d.person_id) == (False, "not_entitled", site.other.pk)
    assert site.decide(site.b2_door, value="B2001").allowed
    assert not site.decide(site.b2_door, value="A1001").allowed


def test_A2_unit_door_only_for_that_unit(site):
    neighbour = f.person(site.tree.grid_a, name="孙单元")
    f.residency(neighbour, site.h12)
    card(site, site.owner, "A1001")
    card(site, neighbour, "A1201")
    assert site.decide(site.u11_door, value="A1001").allowed
    assert site.decide(site.b1_door, value="A1201").allowed  # same building
    assert site.decide(site.u11_door, value="A1201").reason == "not_entitled"  # other unit


def test_A2_tenant_until_lease_end_then_denied(site):
    card(site, site.tenant, "C0001")
    before = dt.datetime(2030, 6, 30, 23, 59, tzinfo=SH)
    after = dt.datetime(2030, 7, 1, 0, 0, tzinfo=SH)
    assert site.decide(site.main_gate, value="C0001", at=before).reason == "tenant"
    d = site.decide(site.main_gate, value="C0001", at=after)
    assert (d.allowed, d.reason) == (False, "lease_ended")


def test_A2_time_windows_in_shanghai_local_time(site):
    card(site, site.owner, "A1001")
    # Building 1: Monday–Friday 07:00–19:00 only.
    svc.rule_create(actor=site.manager, group=site.g_b1, audience=Audience.RESIDENTS, weekdays=0b0011111, start_minute=7 * 60,
                    end_minute=19 * 60)
    assert site.decide(site.b1_door, value="A1001", at=MONDAY_8).allowed
    # 06:59 Shanghai is 22:59 UTC on Sunday: the window is judged in local time, not UTC.
    early = dt.datetime(2026, 3, 1, 22, 59, tzinfo=dt.UTC)
    assert early.astimezone(SH).hour == 6
    assert site.decide(site.b1_door, value="A1001", at=early).reason == "outside_time_window"
    # 10:00 UTC Monday = 18:00 Shanghai (inside); 11:00 UTC = 19:00 (outside, end exclusive).
    assert site.decide(site.b1_door, value="A1001", at=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)).allowed
    assert not site.decide(site.b1_door, value="A1001", at=dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)).allowed
    # Saturday: not in the mask. No DST anywhere in the year: the same rule holds in July.
    assert not site.decide(site.b1_door, value="A1001", at=dt.datetime(2026, 3, 7, 10, 0, tzinfo=SH)).allowed
    assert site.decide(site.b1_door, value="A1001", at=dt.datetime(2026, 7, 6, 7, 0, tzinfo=SH)).allowed
    # The estate gate has no rule: open around the clock.
    assert site.decide(site.main_gate, value="A1001", at=dt.datetime(2026, 3, 7, 3, 0, tzinfo=SH)).allowed


def test_A2_overnight_window_and_holidays(site):
    card(site, site.owner, "A1001")
    svc.rule_create(actor=site.manager, group=site.g_b1, audience=Audience.RESIDENTS, weekdays=0b0011111, start_minute=22 * 60,
                    end_minute=6 * 60)
    assert site.decide(site.b1_door, value="A1001", at=dt.datetime(2026, 3, 2, 23, 0, tzinfo=SH)).allowed
    assert site.decide(site.b1_door, value="A1001", at=dt.datetime(2026, 3, 3, 5, 0, tzinfo=SH)).allowed  # Monday night
    assert not site.decide(site.b1_door, value="A1001", at=dt.datetime(2026, 3, 3, 12, 0, tzinfo=SH)).allowed
    # A holiday on Tuesday uses bit 7 instead of the weekday bit.
    svc.holiday_add(actor=site.manager, region=site.tree.community_a, date=dt.date(2026, 3, 3), name="测试节")
    assert not site.decide(site.b1_door, value="A1001", at=dt.datetime(2026, 3, 3, 23, 0, tzinfo=SH)).allowed
    svc.rule_create(actor=site.manager, group=site.g_b1, audience=Audience.RESIDENTS, weekdays=0b10000000, start_minute=0,
                    end_minute=1440)
    assert site.decide(site.b1_door, value="A1001", at=dt.datetime(2026, 3, 3, 12, 0, tzinfo=SH)).allowed


def test_A2_staff_by_role_and_window(site):
    guard = f.person(site.tree.grid_a, name="保安甲")
    acc = f.account("guard1", perms=["access.view"], scope=site.tree.community_a, person=guard)
    role = acc.role_assignments.get().role
    svc.credential_issue(actor=site.manager, person=guard, kind="card", value="5A5A01", valid_from=EPOCH)
    assert site.decide(site.b1_door, value="5A5A01", at=MONDAY_8).reason == "not_entitled"
    svc.rule_create(actor=site.manager, group=site.g_b1, audience=Audience.STAFF, role=role, weekdays=0b1111111, start_minute=6 * 60,
                    end_minute=22 * 60)
    assert site.decide(site.b1_door, value="5A5A01", at=MONDAY_8).reason == "staff"
    assert site.decide(site.b1_door, value="5A5A01", at=dt.datetime(2026, 3, 2, 23, 0, tzinfo=SH)).reason == "outside_time_window"
    assert not site.decide(site.b2_door, value="5A5A01", at=MONDAY_8).allowed


def test_A2_person_and_group_blocks(site):
    card(site, site.owner, "A1001")
    b = svc.block_add(actor=site.manager, person=site.owner, reason="物业费纠纷临时处理")
    assert site.decide(site.main_gate, value="A1001").reason == "blocked"
    svc.block_remove(actor=site.manager, block=b)
    assert site.decide(site.main_gate, value="A1001").allowed
    svc.block_add(actor=site.manager, group=site.g_b1, reason="维修", ends_at=timezone.now() + dt.timedelta(hours=1))
    assert site.decide(site.b1_door, value="A1001").reason == "group_blocked"
    assert site.decide(site.main_gate, value="A1001").allowed
    svc.block_add(actor=site.manager, person=site.owner, group=site.g_estate, reason="仅限大门")
    assert site.decide(site.main_gate, value="A1001").reason == "blocked"
    assert site.decide(site.u11_door, value="A1001").allowed


def test_A3_revocation_visible_to_the_very_next_decision(site, settings, django_capture_on_commit_callbacks):
    # A long re-check interval: only the after-commit poke can make the change visible this fast.
    settings.LINLI_ACCESS_CHECK_MS = 60_000
    settings.LINLI_ACCESS_EXTERNAL_CHECK_S = 60
    with django_capture_on_commit_callbacks(execute=True):
        c = card(site, site.owner, "A1001")
    assert site.decide(site.main_gate, value="A1001").allowed
    with django_capture_on_commit_callbacks(execute=True):
        svc.credential_suspend(actor=site.manager, credential=c, reason="挂失")
    assert site.decide(site.main_gate, value="A1001").reason == "credential_suspended"
    with django_capture_on_commit_callbacks(execute=True):
        svc.credential_reactivate(actor=site.manager, credential=c)
    assert site.decide(site.main_gate, value="A1001").allowed
    with django_capture_on_commit_callbacks(execute=True):
        svc.credential_revoke(actor=site.manager, credential=c, reason="迁出")
    assert site.decide(site.main_gate, value="A1001").reason == "credential_revoked"
    # The number may be issued again afterwards, and then works.
    with django_capture_on_commit_callbacks(execute=True):
        card(site, site.other, "A1001")
    assert site.decide(site.main_gate, value="A1001").person_id == site.other.pk


def test_A3_another_process_sees_the_change_through_the_change_log(site):
    c = card(site, site.owner, "A1001")
    assert site.decide(site.main_gate, value="A1001").allowed
    idx = decision.get_index()
    svc.credential_revoke(actor=site.manager, credential=c)
    assert idx.version < decision.get_index().version  # incremental catch-up, same index object
    assert decision.get_index() is idx
    assert site.decide(site.main_gate, value="A1001").reason == "credential_revoked"


def test_A3_move_out_noticed_from_residency_fingerprint(site):
    card(site, site.owner, "A1001")
    assert site.decide(site.main_gate, value="A1001").allowed
    r = Residency.objects.get(person=site.owner)
    r.move_out = dt.date(2026, 1, 1)
    r.save()
    assert site.decide(site.main_gate, value="A1001").reason == "not_entitled"


def test_A3_credential_validity_period(site):
    start = dt.datetime(2026, 3, 1, tzinfo=SH)
    card(site, site.owner, "A1001", valid_from=start, valid_until=start + dt.timedelta(days=1))
    assert site.decide(site.main_gate, value="A1001", at=start - dt.timedelta(minutes=1)).reason == "credential_not_yet_valid"
    assert site.decide(site.main_gate, value="A1001", at=start + dt.timedelta(hours=1)).allowed
    assert site.decide(site.main_gate, value="A1001", at=start + dt.timedelta(days=1)).reason == "credential_expired"


def test_A3_unknown_gate_credential_and_inactive_gate(site):
    card(site, site.owner, "A1001")
    assert decision.decide(gate_code="nope", credential_kind="card", credential_value="A1001").reason == "unknown_gate"
    assert site.decide(site.main_gate, value="FFFF").reason == "unknown_credential"
    assert site.decide(site.main_gate, kind="bogus", value="A1001").reason == "unknown_credential"
    svc.gate_update(actor=site.manager, gate=site.main_gate, is_active=False)
    assert site.decide(site.main_gate, value="A1001").reason == "gate_inactive"


def test_A3_card_number_normalised(site):
    card(site, site.owner, "a1b2c3")
    assert site.decide(site.main_gate, value=" A1B2C3 ").allowed


def test_A1_A3_qr_token_expiry_tampering_and_revocation(site):
    acc = resident(site.owner)
    token, expires, cred = svc.qr_issue(actor=acc, person=site.owner)
    assert site.decide(site.main_gate, kind="qr", value=token).reason == "resident"
    assert site.decide(site.b1_door, kind="qr", value=token).allowed
    assert not site.decide(site.b2_door, kind="qr", value=token).allowed
    late = expires + dt.timedelta(seconds=1)
    assert site.decide(site.main_gate, kind="qr", value=token, at=late).reason == "qr_expired"
    body, sig = token.split(".")
    forged = tokens.qr_sign(type="r", id=cred.pk, person_id=site.other.pk, group_ids=None, expires=int(expires.timestamp()))
    tampered = forged.split(".")[0] + "." + sig
    assert site.decide(site.main_gate, kind="qr", value=tampered).reason == "qr_invalid"
    assert site.decide(site.main_gate, kind="qr", value="garbage").reason == "qr_invalid"
    flipped = sig[:10] + ("B" if sig[10] == "A" else "A") + sig[11:]  # (an Ed25519 signature's last characters are partly fixed)
    assert site.decide(site.main_gate, kind="qr", value=body + "." + flipped).reason == "qr_invalid"
    svc.credential_suspend(actor=site.manager, credential=cred)
    assert site.decide(site.main_gate, kind="qr", value=token).reason == "credential_suspended"


def test_A3_pin_and_face_reference(site):
    svc.credential_issue(actor=site.manager, person=site.owner, kind="pin", value="20260302", house=site.h11, valid_from=EPOCH)
    assert site.decide(site.u11_door, kind="pin", value="20260302").allowed
    consent(site.owner, "biometric_face")
    svc.credential_issue(actor=site.manager, person=site.owner, kind="face", template_ref="engine-7:face:991", valid_from=EPOCH)
    assert site.decide(site.u11_door, kind="face", value="engine-7:face:991").allowed
