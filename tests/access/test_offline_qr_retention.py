"""A3 offline QR verification from the signed allow-list and merging of offline events; A4/H6 visitor retention."""

from __future__ import annotations

import base64
import datetime as dt
import importlib

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from linli.access import decision, tokens
from linli.access import services as svc
from linli.access.models import AccessEvent, InviteStatus, VisitorInvite
from linli.access.tasks import visitor_retention_task
from linli.audit.models import AuditEntry

from .conftest import resident
from .test_api import GateClient

pytestmark = pytest.mark.django_db
ID_A = "11010519491231002X"


def _offline_accepts(doc: dict, token: str) -> bool:
    """What a controller does offline: verify the QR with the list's key, then match its claims to a row."""
    try:
        claims = tokens.qr_verify(token, public_key=doc["qr"]["public_key"])
    except tokens.QrError:
        return False
    if claims.type == "v":
        return any(p["invite_id"] == claims.id for p in doc["visitor_passes"])
    return any(e["credential_id"] == claims.id and e["person_id"] == claims.person_id for e in doc["qr_entries"])


def _list(site, code: str) -> dict:
    body = GateClient(site.tokens[code]).get(f"gates/{code}/allowlist").json()
    assert tokens.verify_document(body["document"], body["signature"], body["public_key"])
    return body["document"]


def test_A3_offline_list_carries_qr_key_and_entitlements(site):
    token, _exp, cred = svc.qr_issue(actor=resident(site.owner), person=site.owner, house=site.h11, ttl=60)
    doc = _list(site, "u11")
    assert doc["qr"]["algorithm"] == "Ed25519" and doc["qr"]["key_id"] == tokens.qr_key_id()
    assert {"credential_id": cred.pk, "person_id": site.owner.pk} in [{k: e[k] for k in ("credential_id", "person_id")} for e in doc["qr_entries"]]
    assert _offline_accepts(doc, token)
    assert not _offline_accepts(_list(site, "b2"), token)  # another building's door has no row for this resident
    # a token minted with any other key fails with the list's public key (controllers cannot mint QR codes)
    other = Ed25519PrivateKey.generate()
    body, _, _sig = token.partition(".")
    forged = body + "." + base64.urlsafe_b64encode(other.sign(tokens._unb64(body))).decode().rstrip("=")
    assert not _offline_accepts(doc, forged)
    # revoking the QR entitlement removes it from the next list version
    svc.credential_revoke(actor=site.manager, credential=cred, reason="搬离")
    doc2 = _list(site, "u11")
    assert doc2["version"] > doc["version"] and not _offline_accepts(doc2, token)


def test_A3_offline_list_carries_visitor_passes_of_the_house_doors(site):
    start = timezone.now()
    inv = svc.visitor_invite(actor=resident(site.owner), house=site.h11, visitor_name="钱访客", valid_from=start,
                             valid_until=start + dt.timedelta(hours=2))
    token, _ = svc.visitor_pass(invite=inv)
    assert _offline_accepts(_list(site, "u11"), token) and _offline_accepts(_list(site, "main"), token)
    assert not _offline_accepts(_list(site, "b2"), token)


def test_A3_offline_verified_qr_events_merge_without_duplicates(site):
    _token, _exp, cred = svc.qr_issue(actor=resident(site.owner), person=site.owner, house=site.h11, ttl=60)
    at = timezone.now() - dt.timedelta(minutes=30)
    g = GateClient(site.tokens["u11"])
    events = [{"event_uid": f"u11-qr-{i:04d}", "credential_kind": "qr", "credential_id": cred.pk, "person_id": site.owner.pk,
               "result": "allow", "reason": "offline_qr", "at": (at + dt.timedelta(minutes=i)).isoformat()} for i in range(3)]
    assert g.post("events/upload", {"events": events}).json() == {"received": 3, "stored": 3}
    assert g.post("events/upload", {"events": events + events[:1]}).json() == {"received": 4, "stored": 0}
    rows = AccessEvent.objects.filter(gate=site.u11_door, credential_kind="qr")
    assert rows.count() == 3 and set(rows.values_list("source", flat=True)) == {"offline"}
    from linli.access.selectors import last_seen

    assert last_seen(site.owner.pk) == at + dt.timedelta(minutes=2)


def test_A4_H6_visitor_records_are_anonymised_after_retention_and_hits_kept_longer(site, settings):
    settings.LINLI_ACCESS_VISITOR_RETENTION_DAYS = 180
    settings.LINLI_ACCESS_WATCH_HIT_RETENTION_DAYS = 730
    svc.watch_add(actor=site.manager, region=site.tree.community_a, kind="plate", reason="套牌", plate="京A99999", policy="allow_and_alarm")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        plain = svc.visitor_register_at_gate(actor=site.manager, gate=site.main_gate, house=site.h11, visitor_name="孙访客", id_number=ID_A,
                                             visitor_phone="13800138000", plate="京A12345", hours=2)
        hit = svc.visitor_register_at_gate(actor=site.manager, gate=site.main_gate, house=site.h11, visitor_name="李有事", id_number=ID_A,
                                           plate="京A99999", hours=2)
    assert hit.watch_hit_id is not None
    with time_machine.travel(start + dt.timedelta(days=179), tick=False):
        assert visitor_retention_task.call() == 0
    with time_machine.travel(start + dt.timedelta(days=181), tick=False):
        assert visitor_retention_task.call() == 1
        assert visitor_retention_task.call() == 0  # idempotent
    plain.refresh_from_db()
    hit.refresh_from_db()
    assert (plain.visitor_name, plain.visitor_phone, plain.visitor_phone_tail, plain.visitor_id_index, plain.visitor_id_tail, plain.plate) == (
        svc.ANONYMISED_NAME, "", "", "", "", "")
    assert plain.anonymised_at is not None and plain.status == InviteStatus.PENDING  # the visit itself (counts) stays
    assert hit.visitor_name == "李有事" and hit.plate == "京A99999" and hit.anonymised_at is None
    with time_machine.travel(start + dt.timedelta(days=731), tick=False):
        assert svc.visitors_anonymise() == 1
    hit.refresh_from_db()
    assert hit.visitor_id_index == "" and hit.plate == ""
    audits = AuditEntry.objects.filter(action="access.visitor_anonymise")
    assert audits.count() == 2 and audits.first().detail["count"] == 1
    assert VisitorInvite.objects.filter(anonymised_at__isnull=True).count() == 0


def test_A4_retention_is_declared_as_a_periodic_task():
    schedules = importlib.import_module("linli.access.schedules").SCHEDULES
    name, path, every = schedules[0]
    module, func = path.rsplit(".", 1)
    assert name == "access.visitor_retention" and getattr(importlib.import_module(module), func) is visitor_retention_task and every > 0
    assert decision.TZ.key == "Asia/Shanghai"


def test_A1_A4_api_expiry_and_cancel(site, api_as):
    from .conftest import card

    cred = card(site, site.owner, "C0FFEE01", house=site.h11)
    past = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    r = api_as(site.manager).post(f"access/credentials/{cred.pk}/expiry", {"valid_until": past})
    assert r.status_code == 200 and site.decide(site.main_gate, value="C0FFEE01").reason == "credential_expired"
    assert api_as(site.manager_b).post(f"access/credentials/{cred.pk}/expiry", {"valid_until": None}).status_code == 404
    assert api_as(site.manager).post(f"access/credentials/{cred.pk}/expiry", {"valid_until": "2019-01-01T00:00:00+08:00"}).status_code == 422
    start = timezone.now()
    inv = svc.visitor_invite(actor=resident(site.owner), house=site.h11, visitor_name="钱访客", valid_from=start,
                             valid_until=start + dt.timedelta(hours=2))
    assert api_as(resident(site.other)).post(f"access/my/invites/{inv.pk}/cancel").status_code == 404
    r = api_as(resident(site.owner)).post(f"access/my/invites/{inv.pk}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert api_as(resident(site.owner)).post(f"access/my/invites/{inv.pk}/cancel").status_code == 409
    desk = svc.visitor_register_at_gate(actor=site.manager, gate=site.main_gate, house=site.h11, visitor_name="周来访", id_number=ID_A)
    assert api_as(site.manager_b).post(f"access/visitors/{desk.pk}/cancel").status_code == 404
    assert api_as(site.manager).post(f"access/visitors/{desk.pk}/cancel").json()["status"] == "cancelled"
