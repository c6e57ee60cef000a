"""Admin (django-unfold) pages for orgs render, create accounts with Django's password forms, audit writes."""

from __future__ import annotations

import pytest
from django.test import Client

from linli.audit.models import AuditEntry
from linli.orgs.models import Account, Role
from tests import factories as f


@pytest.fixture
def admin_client(tree):
    c = Client()
    c.force_login(f.account("root", superuser=True))
    return c


def test_O2_admin_pages_render(tree, admin_client):
    acc = f.account(organisation=f.organisation(tree.community_a))
    for url in ("/admin/orgs/account/", "/admin/orgs/account/add/", f"/admin/orgs/account/{acc.pk}/change/",
                f"/admin/orgs/account/{acc.pk}/password/", "/admin/orgs/organisation/", "/admin/orgs/role/",
                "/admin/orgs/role/add/", "/admin/orgs/roleassignment/", "/admin/orgs/apitoken/",
                "/admin/orgs/loginattempt/"):
        assert admin_client.get(url).status_code == 200, url


def test_O2_admin_creates_account_with_validated_password(tree, admin_client):
    r = admin_client.post("/admin/orgs/account/add/", {
        "username": "clerk", "kind": "staff", "display_name": "文员", "password1": "123", "password2": "123",
    })
    assert r.status_code == 200 and not Account.objects.filter(username="clerk").exists()
    r = admin_client.post("/admin/orgs/account/add/", {
        "username": "clerk", "kind": "staff", "display_name": "文员",
        "password1": "Qiang-Mima-2026", "password2": "Qiang-Mima-2026",
    })
    assert r.status_code == 302
    acc = Account.objects.get(username="clerk")
    assert acc.check_password("Qiang-Mima-2026")
    entry = AuditEntry.objects.get(action="admin.account.create")
    assert "password" not in entry.after and entry.object_id == str(acc.pk)


def test_O2_admin_role_form_offers_only_known_permissions(admin_client):
    r = admin_client.post("/admin/orgs/role/add/", {"code": "x", "name": "x", "permissions": ["place.view", "nuke"]})
    assert r.status_code == 200 and not Role.objects.filter(code="x").exists()
    r = admin_client.post("/admin/orgs/role/add/", {"code": "x", "name": "x", "permissions": ["place.view"]})
    assert r.status_code == 302 and Role.objects.get(code="x").permissions == ["place.view"]


def test_O2_openapi_documents_auth_orgs_audit(db):
    spec = Client().get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    for p in ("/api/v1/auth/token", "/api/v1/auth/me", "/api/v1/auth/tokens", "/api/v1/orgs/organisations",
              "/api/v1/orgs/accounts/{account_id}", "/api/v1/orgs/assignments", "/api/v1/audit/entries",
              "/api/v1/audit/verify"):
        assert p in paths, p
    assert paths["/api/v1/auth/token"]["post"].get("security") in (None, [])


def test_O2_admin_inline_role_assignment_is_audited(tree, admin_client):
    acc = f.account("clerk2", organisation=f.organisation(tree.community_a))
    role = Role.objects.get(code="grid_worker")
    r = admin_client.post(f"/admin/orgs/account/{acc.pk}/change/", {
        "username": "clerk2", "kind": "staff", "display_name": "文员", "phone": "", "organisation": acc.organisation_id,
        "person": "", "preferred_language": "zh-hans", "is_active": "on",
        "role_assignments-TOTAL_FORMS": "1", "role_assignments-INITIAL_FORMS": "0",
        "role_assignments-MIN_NUM_FORMS": "0", "role_assignments-MAX_NUM_FORMS": "1000",
        "role_assignments-0-role": role.pk, "role_assignments-0-region": tree.grid_a.pk,
        "role_assignments-0-valid_until_0": "", "role_assignments-0-valid_until_1": "",
    })
    assert r.status_code == 302, r.content.decode()[-3000:]
    ra = acc.role_assignments.get()
    assert ra.granted_by.username == "root"
    entry = AuditEntry.objects.get(action="admin.roleassignment.create")
    assert entry.region_path == tree.grid_a.path and "person.edit" in entry.after["permissions"]
