"""A1 credentials (consent for biometrics, never face-only), A4 visitors and the watch list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from linli.access import services as svc
from linli.access.models import AccessAlarm, Credential, InviteStatus
from linli.audit.models import AuditEntry
from linli.core.errors import Conflict, Invalid, NotFound
from tests import factories as f

from .conftest import card, consent, resident


def test_A1_biometric_needs_separate_consent(site):
    with pytest.raises(Invalid) as e:
        svc.credential_issue(actor=site.manager, person=site.owner, kind="face", template_ref="eng:1")
    assert e.value.code == "access.consent_required" and e.value.status == 422
    consent(site.owner, "data_processing")  # general consent is not enough
    with pytest.raises(Invalid):
        svc.credential_issue(actor=site.manager, person=site.owner, kind="fingerprint", template_ref="eng:2")
    consent(site.owner, "biometric_fingerprint")
    c = svc.credential_issue(actor=site.manager, person=site.owner, kind="fingerprint", template_ref="eng:2")
    assert c.template_ref == "eng:2" and c.secret_index and c.offline_tag


def test_A1_face_never_the_only_way_card_or_qr_offered(site, api_as):
    consent(site.owner, "biometric_face")
    r = api_as(site.manager).post("access/credentials", {"person_id": site.owner.pk, "kind": "face", "template_ref": "eng:9"})
    assert r.status_code == 201, r.content
    assert r.json()["offer_card_or_qr"] is True and r.json()["other_ways"] == []
    card(site, site.owner, "A1001")
    r = api_as(site.manager).post("access/credentials", {"person_id": site.other.pk, "kind": "card", "value": "B2001"})
    assert r.json()["offer_card_or_qr"] is False
    # …and the resident can always get a QR code.
    acc = resident(site.owner)
    r = api_as(acc).post("access/qr", {})
    assert r.status_code == 200 and "." in r.json()["token"]


def test_A1_secrets_never_stored_and_audit_redacted(site):
    c = card(site, site.owner, "0123456789ABCDEF")
    row = Credential.objects.filter(pk=c.pk).values()[0]
    assert "0123456789ABCDEF" not in str(row)
    assert row["secret_tail"] == "CDEF"
    entry = AuditEntry.objects.filter(action="access.credential_issue").latest("seq")
    assert "0123456789ABCDEF" not in str(entry.after) and entry.after["secret_tail"] == "CDEF"


def test_A1_card_number_unique_while_live(site):
    card(site, site.owner, "A1001")
    with pytest.raises(Conflict):
        card(site, site.other, "A1001")


def test_A1_formats_and_residency_checked(site):
    with pytest.raises(Invalid):
        svc.credential_issue(actor=site.manager, person=site.owner, kind="pin", value="12")
    with pytest.raises(Invalid) as e:
        svc.credential_issue(actor=site.manager, person=site.owner, kind="card", value="A1", house=site.h2)
    assert e.value.code == "access.not_resident"


def test_A1_other_community_manager_gets_404(site):
    with pytest.raises(NotFound):
        card(site, site.owner, "A1001") and svc.credential_issue(actor=site.manager_b, person=site.owner, kind="card", value="A1002")
    with pytest.raises(NotFound):
        svc.credential_issue(actor=site.manager_b, person=site.owner, kind="card", value="A1003")


def test_A1_holder_can_report_own_card_lost(site, api_as):
    c = card(site, site.owner, "A1001")
    acc = resident(site.owner)
    r = api_as(acc).post(f"access/my/credentials/{c.pk}/suspend", {"reason": "丢失"})
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    other = resident(site.other)
    assert api_as(other).post(f"access/my/credentials/{c.pk}/suspend", {}).status_code == 404
    assert site.decide(site.main_gate, value="A1001").reason == "credential_suspended"


def _window(hours=3):
    now = timezone.now()
    return now - dt.timedelta(minutes=5), now + dt.timedelta(hours=hours)


def test_A4_invite_confirmed_pass_opens_host_building_only(site):
    acc = resident(site.owner)
    vf, vu = _window()
    inv = svc.visitor_invite(actor=acc, house=site.h11, visitor_name="周访客", valid_from=vf, valid_until=vu, visitor_phone="13900001111")
    assert inv.status == InviteStatus.CONFIRMED
    token, expires = svc.visitor_pass(invite=inv)
    assert expires == vu
    assert site.decide(site.main_gate, kind="qr", value=token).reason == "visitor"
    assert site.decide(site.u11_door, kind="qr", value=token).allowed
    assert site.decide(site.b2_door, kind="qr", value=token).reason == "qr_scope"
    assert site.decide(site.main_gate, kind="qr", value=token, at=vu + dt.timedelta(seconds=1)).reason == "qr_expired"


def test_A4_gate_registration_needs_host_confirmation(site):
    desk = f.account("desk", perms=["access.visitor_desk", "access.view"], scope=site.tree.community_a)
    inv = svc.visitor_register_at_gate(actor=desk, gate=site.main_gate, house=site.h11, visitor_name="吴师傅",
                                       id_number=f.make_id_number(seq=501), hours=2)
    assert inv.status == InviteStatus.PENDING
    with pytest.raises(Conflict):
        svc.visitor_pass(invite=inv)
    host = resident(site.tenant)
    inv = svc.host_confirm(actor=host, invite=inv, accept=True)
    token, _ = svc.visitor_pass(invite=inv)
    assert site.decide(site.main_gate, kind="qr", value=token).allowed
    stranger = resident(site.other)
    inv2 = svc.visitor_register_at_gate(actor=desk, gate=site.main_gate, house=site.h11, visitor_name="郑某",
                                        id_number=f.make_id_number(seq=502))
    with pytest.raises(NotFound):
        svc.host_confirm(actor=stranger, invite=inv2)


def test_A4_watch_list_deny_hit_denies_alarms_and_audits(site):
    idn = f.make_id_number(seq=777)
    svc.watch_add(actor=site.manager, region=site.tree.community_a, kind="person", id_number=idn, reason="公安协查", policy="deny")
    desk = f.account("desk2", perms=["access.visitor_desk"], scope=site.tree.community_a)
    inv = svc.visitor_register_at_gate(actor=desk, gate=site.main_gate, house=site.h11, visitor_name="钱某", id_number=idn)
    assert inv.status == InviteStatus.DENIED and inv.watch_hit_id
    alarm = AccessAlarm.objects.get(visitor_invite=inv)
    assert alarm.policy == "deny" and alarm.gate_id == site.main_gate.pk
    assert AuditEntry.objects.filter(action="access.watch_hit", object_id=str(alarm.pk)).exists()
    with pytest.raises(Conflict):
        svc.host_confirm(actor=site.manager, invite=inv)


def test_A4_watch_list_allow_and_alarm_and_plate_hit(site):
    svc.watch_add(actor=site.manager, region=site.tree.community_a, kind="plate", plate="鲁A12345", reason="欠费车辆",
                  policy="allow_and_alarm")
    acc = resident(site.owner)
    vf, vu = _window()
    inv = svc.visitor_invite(actor=acc, house=site.h11, visitor_name="孙某", valid_from=vf, valid_until=vu, plate="鲁a 12345")
    assert inv.status == InviteStatus.CONFIRMED and inv.watch_hit_id is not None
    assert AccessAlarm.objects.filter(visitor_invite=inv, policy="allow_and_alarm").count() == 1
    # An entry in community B does not apply in community A.
    svc.watch_add(actor=site.manager_b, region=site.tree.community_b, kind="plate", plate="鲁B54321", reason="x")
    inv2 = svc.visitor_invite(actor=acc, house=site.h11, visitor_name="李某", valid_from=vf, valid_until=vu, plate="鲁B54321")
    assert inv2.status == InviteStatus.CONFIRMED and inv2.watch_hit_id is None


def test_A4_invite_rules(site):
    acc = resident(site.owner)
    now = timezone.now()
    with pytest.raises(Invalid):
        svc.visitor_invite(actor=acc, house=site.h11, visitor_name="x", valid_from=now, valid_until=now + dt.timedelta(days=8))
    with pytest.raises(Invalid):
        svc.visitor_invite(actor=acc, house=site.h2, visitor_name="x", valid_from=now, valid_until=now + dt.timedelta(hours=1))
    with pytest.raises(Invalid):
        svc.visitor_invite(actor=acc, house=site.h11, visitor_name="x", valid_from=now, valid_until=now + dt.timedelta(hours=1),
                           plate="ABC")
