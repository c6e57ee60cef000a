"""O3 audit API: scoped list with filters and cursor by seq, chain verification, read-only admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from linli.audit import services as audit
from linli.audit.models import AuditEntry
from linli.orgs import services as orgs
from linli.orgs.models import OrgType
from linli.orgs.perms import Perm
from tests import factories as f


@pytest.fixture
def entries(tree):
    admin = f.account("root", superuser=True)
    org_a = orgs.organisation_create(actor=admin, type=OrgType.MERCHANT, name="甲商户", region=tree.grid_a)
    org_b = orgs.organisation_create(actor=admin, type=OrgType.MERCHANT, name="乙商户", region=tree.grid_b)
    orgs.organisation_update(actor=admin, organisation=org_a, name="甲商户二")
    return {"admin": admin, "org_a": org_a, "org_b": org_b}


def test_O3_audit_list_scoped_to_region(tree, entries, api_as):
    auditor_a = f.account(perms=[Perm.AUDIT_VIEW], scope=tree.community_a)
    items = api_as(auditor_a).get("audit/entries").json()["items"]
    assert [(e["action"], e["object_id"]) for e in items] == [
        ("org.update", str(entries["org_a"].pk)), ("org.create", str(entries["org_a"].pk)),
    ]
    assert items[0]["before"]["name"] == "甲商户" and items[0]["after"]["name"] == "甲商户二"
    none = api_as(f.account(perms=[Perm.ORG_VIEW], scope=tree.city)).get("audit/entries").json()["items"]
    assert none == []
    everything = api_as(entries["admin"]).get("audit/entries", {"limit": 200}).json()["items"]
    assert {e["object_id"] for e in everything} >= {str(entries["org_a"].pk), str(entries["org_b"].pk)}


def test_O3_audit_list_filters_and_cursor(tree, entries, api_as):
    api = api_as(entries["admin"])
    org_b = entries["org_b"]
    r = api.get("audit/entries", {"object_type": "orgs.organisation", "object_id": org_b.pk}).json()["items"]
    assert [e["action"] for e in r] == ["org.create"]
    assert {e["action"] for e in api.get("audit/entries", {"action": "org."}).json()["items"]} == {"org.create", "org.update"}
    assert api.get("audit/entries", {"action": "org.update"}).json()["items"][0]["kind"] == "write"
    assert api.get("audit/entries", {"kind": "read"}).json()["items"] == []
    assert len(api.get("audit/entries", {"actor_id": entries["admin"].pk, "action": "org."}).json()["items"]) == 3
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert api.get("audit/entries", {"since": future}).json()["items"] == []
    assert api.get("audit/entries", {"kind": "bogus"}).status_code == 422
    page1 = api.get("audit/entries", {"limit": 2}).json()
    page2 = api.get("audit/entries", {"limit": 2, "cursor": page1["next_cursor"]}).json()
    seqs = [e["seq"] for e in page1["items"] + page2["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)


def test_O3_audit_list_query_count_constant(tree, entries, api_as, django_assert_max_num_queries):
    api = api_as(f.account(perms=[Perm.AUDIT_VIEW], scope=tree.city))
    with CaptureQueriesContext(connection) as small:
        api.get("audit/entries")
    for i in range(30):
        audit.record(actor=None, action="test.write", object_type="x", object_id=i, region_path=tree.grid_a.path)
    with django_assert_max_num_queries(len(small.captured_queries)):
        items = api.get("audit/entries").json()["items"]
    assert len(items) == 33  # 30 new + the 3 organisation writes


def test_O3_auth_events_are_audited_without_passwords(tree):
    f.account("zhang", organisation=f.organisation(tree.community_a))
    c = Client()
    c.post("/api/v1/auth/token", {"username": "zhang", "password": "wrong-one"}, content_type="application/json")
    c.post("/api/v1/auth/token", {"username": "zhang", "password": f.PASSWORD}, content_type="application/json")
    rows = list(AuditEntry.objects.filter(kind="auth").order_by("seq"))
    assert [r.action for r in rows] == ["auth.login_failed", "auth.login", "token.create"]
    assert all(r.channel == "api" and r.region_path == tree.community_a.path for r in rows)
    dump = str([(r.before, r.after, r.detail) for r in rows])
    assert "wrong-one" not in dump and f.PASSWORD not in dump and "key_hash" not in dump


def test_O3_verify_endpoint_detects_tampering(tree, entries, api_as):
    root_auditor = api_as(f.account(perms=[Perm.AUDIT_VIEW], scope=tree.city))
    r = root_auditor.get("audit/verify")
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["checked"] >= 3
    r = api_as(f.account(perms=[Perm.AUDIT_VIEW], scope=tree.community_a)).get("audit/verify")
    assert r.status_code == 403 and r.json()["code"] == "audit.verify_forbidden"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_no_update")
        else:
            cur.execute("DROP TRIGGER audit_no_update")
        cur.execute("UPDATE audit_auditentry SET actor_label = %s WHERE seq = 2", ["someone-else"])
    body = api_as(entries["admin"]).get("audit/verify").json()
    assert body == {"ok": False, "checked": 1, "first_broken_seq": 2, "reason": body["reason"]}
    assert "altered" in body["reason"]


def test_O3_audit_admin_is_read_only(entries):
    c = Client()
    c.force_login(entries["admin"])
    assert c.get("/admin/audit/auditentry/").status_code == 200
    entry = AuditEntry.objects.first()
    assert c.get(f"/admin/audit/auditentry/{entry.pk}/change/").status_code == 200
    assert c.get("/admin/audit/auditentry/add/").status_code == 403
    assert c.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_O3_admin_writes_are_audited(tree, entries):
    c = Client()
    c.force_login(entries["admin"])
    org = entries["org_a"]
    r = c.get(f"/admin/orgs/organisation/{org.pk}/change/")
    assert r.status_code == 200
    r = c.post(f"/admin/orgs/organisation/{org.pk}/change/", {
        "type": org.type, "name": "改名商户", "short_name": "", "uscc": "", "region": org.region_id, "parent": "",
        "contact_name": "", "contact_phone": "", "address": "", "is_active": "on",
    })
    assert r.status_code == 302, r.content.decode()[:2000]
    entry = AuditEntry.objects.filter(action="admin.organisation.update").get()
    assert entry.before["name"] == "甲商户二" and entry.after["name"] == "改名商户" and entry.channel == "admin"
    r = c.post(f"/admin/orgs/organisation/{org.pk}/change/", {
        "type": org.type, "name": "x", "uscc": "91370102MA3C123457", "region": org.region_id, "is_active": "on",
    })
    assert r.status_code == 200  # form error: invalid USCC
