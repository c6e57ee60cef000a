"""O1/O2 API: /api/v1/orgs — scope isolation across two communities (404, never 403), errors, query pins."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from linli.audit.models import AuditEntry
from linli.orgs.models import Account, OrgType, Role, RoleAssignment
from linli.orgs.perms import Perm
from tests import factories as f

STRONG = "Qiang-Mima-2026"
BOSS_PERMS = [Perm.ORG_VIEW, Perm.ORG_EDIT, Perm.ACCOUNT_VIEW, Perm.ACCOUNT_EDIT, Perm.ROLE_ASSIGN, Perm.PLACE_VIEW]


class World:
    def __init__(self, tree):
        self.tree = tree
        self.org_a = f.organisation(tree.community_a, name="甲社区居委会")
        self.org_b = f.organisation(tree.community_b, name="乙社区居委会")
        viewer = f.role("viewer", [Perm.PLACE_VIEW])
        self.acc_a = f.account("worker_a", organisation=self.org_a)
        self.acc_b = f.account("worker_b", organisation=self.org_b)
        self.ra_a = RoleAssignment.objects.create(account=self.acc_a, role=viewer, region=tree.grid_a)
        self.ra_b = RoleAssignment.objects.create(account=self.acc_b, role=viewer, region=tree.grid_b)
        self.boss_a = f.account("boss_a", perms=BOSS_PERMS, scope=tree.community_a, organisation=self.org_a)


@pytest.fixture
def world(tree):
    return World(tree)


@pytest.fixture
def api(world, api_as):
    return api_as(world.boss_a)


def codes(resp) -> str:
    return resp.json().get("code", "")


# ---- organisations -------------------------------------------------------------------------------
def test_O1_org_list_detail_scoped(world, api):
    r = api.get("orgs/organisations")
    assert r.status_code == 200
    assert [o["name"] for o in r.json()["items"]] == ["甲社区居委会"]
    assert api.get(f"orgs/organisations/{world.org_a.pk}").json()["region_name"] == "甲社区"
    r = api.get(f"orgs/organisations/{world.org_b.pk}")
    assert r.status_code == 404 and codes(r) == "org.not_found"
    assert api.get("orgs/organisations", {"region_id": world.tree.community_b.pk}).json()["items"] == []
    assert api.get("orgs/organisations", {"q": "乙"}).json()["items"] == []


def test_O1_org_create_update_scoped(world, api):
    body = {"type": OrgType.PROPERTY_COMPANY, "name": "甲物业", "region_id": world.tree.grid_a.pk,
            "uscc": "91370102MA3C123456", "contact_phone": "0531-88888888"}
    r = api.post("orgs/organisations", body)
    assert r.status_code == 201, r.content
    org_id = r.json()["id"]
    assert r.json()["type_label"] == "物业服务企业"
    r = api.post("orgs/organisations", body | {"name": "另一家", "uscc": "91370102MA3C123457"})
    assert r.status_code == 422 and codes(r) == "org.uscc_invalid"
    r = api.post("orgs/organisations", body | {"name": "乙物业", "uscc": "", "region_id": world.tree.community_b.pk})
    assert r.status_code == 404
    r = api.post("orgs/organisations", body | {"type": "spaceship"})
    assert r.status_code == 422 and codes(r) == "request.invalid"
    assert api.patch(f"orgs/organisations/{org_id}", {"name": "甲物业公司"}).json()["name"] == "甲物业公司"
    assert api.patch(f"orgs/organisations/{org_id}", {"region_id": world.tree.community_b.pk}).status_code == 404
    assert api.patch(f"orgs/organisations/{world.org_b.pk}", {"name": "x"}).status_code == 404
    r = api.post("orgs/organisations", body | {"name": "甲物业公司", "uscc": ""})
    assert r.status_code == 422  # same name, type and region
    assert AuditEntry.objects.filter(action__startswith="org.", actor_id=world.boss_a.pk).count() == 2


def test_O1_org_list_query_count_constant(world, api, django_assert_max_num_queries):
    for i in range(3):
        f.organisation(world.tree.grid_a, name=f"组织{i}")
    with CaptureQueriesContext(connection) as small:
        assert len(api.get("orgs/organisations").json()["items"]) == 4
    for i in range(3, 20):
        f.organisation(world.tree.grid_a, name=f"组织{i}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        r = api.get("orgs/organisations", {"limit": 10})
    assert len(r.json()["items"]) == 10 and r.json()["next_cursor"]
    page2 = api.get("orgs/organisations", {"limit": 10, "cursor": r.json()["next_cursor"]}).json()
    assert len(page2["items"]) == 10
    assert api.get("orgs/organisations", {"limit": 500}).status_code == 422


# ---- accounts ------------------------------------------------------------------------------------
def test_O2_account_list_detail_scoped(world, api):
    names = {a["username"] for a in api.get("orgs/accounts").json()["items"]}
    assert names == {"worker_a", "boss_a"}
    r = api.get(f"orgs/accounts/{world.acc_a.pk}")
    assert r.status_code == 200 and "phone" not in r.json() and "password" not in r.json()
    for path in (f"orgs/accounts/{world.acc_b.pk}",):
        assert api.get(path).status_code == 404
    assert api.patch(f"orgs/accounts/{world.acc_b.pk}", {"display_name": "x"}).status_code == 404
    assert api.post(f"orgs/accounts/{world.acc_b.pk}/deactivate").status_code == 404
    assert api.post(f"orgs/accounts/{world.acc_b.pk}/password", {"password": STRONG}).status_code == 404
    assert api.get("orgs/accounts", {"organisation_id": world.org_b.pk}).json()["items"] == []


def test_O2_account_visible_through_any_anchor(world, api_as):
    """An account with no organisation in scope is visible via a role assignment in scope."""
    street_viewer = f.account("sv", perms=[Perm.ACCOUNT_VIEW], scope=world.tree.community_b)
    seen = {a["username"] for a in api_as(street_viewer).get("orgs/accounts").json()["items"]}
    assert seen == {"worker_b", "sv"}


def test_O2_account_create_update_deactivate(world, api):
    body = {"username": "new_a", "password": STRONG, "kind": "staff", "display_name": "新同事",
            "phone": "13812345678", "organisation_id": world.org_a.pk}
    r = api.post("orgs/accounts", body)
    assert r.status_code == 201, r.content
    assert r.json()["phone_masked"] == "138****5678"
    new_id = r.json()["id"]
    r = api.post("orgs/accounts", body | {"username": "weak", "password": "password"})
    assert r.status_code == 422 and codes(r) == "account.password_weak" and r.json()["detail"]["password"]
    assert api.post("orgs/accounts", body | {"username": "b_one", "organisation_id": world.org_b.pk}).status_code == 404
    assert api.post("orgs/accounts", body).status_code == 409
    r = api.patch(f"orgs/accounts/{new_id}", {"display_name": "改名", "phone": "12"})
    assert r.status_code == 422 and codes(r) == "person.phone_invalid"
    assert api.patch(f"orgs/accounts/{new_id}", {"display_name": "改名"}).json()["display_name"] == "改名"
    assert api.post(f"orgs/accounts/{new_id}/password", {"password": STRONG + "!"}).status_code == 200
    r = api.post(f"orgs/accounts/{new_id}/deactivate")
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert not Account.objects.get(pk=new_id).is_active
    r = api.post(f"orgs/accounts/{world.boss_a.pk}/deactivate")
    assert r.status_code == 422 and codes(r) == "account.self_deactivate"


def test_O2_account_list_query_count_constant(world, api, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as small:
        api.get("orgs/accounts")
    for _ in range(15):
        f.account(organisation=world.org_a)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get("orgs/accounts").json()["items"]) == 17


# ---- roles and assignments -----------------------------------------------------------------------
def test_O2_roles_readable_but_defined_by_superuser_only(world, api, api_as):
    r = api.get("orgs/roles", {"limit": 200})
    assert "community_worker" in {x["code"] for x in r.json()["items"]}
    assert Perm.AUDIT_VIEW in {p["name"] for p in api.get("orgs/permissions").json()}
    r = api.post("orgs/roles", {"code": "mine", "name": "我的", "permissions": [Perm.PLACE_VIEW]})
    assert r.status_code == 403 and codes(r) == "role.superuser_only"
    root = api_as(f.account(superuser=True))
    r = root.post("orgs/roles", {"code": "mine", "name": "我的", "permissions": [Perm.PLACE_VIEW, "nope"]})
    assert r.status_code == 422 and codes(r) == "role.unknown_permission"
    r = root.post("orgs/roles", {"code": "mine", "name": "我的", "permissions": [Perm.PLACE_VIEW]})
    assert r.status_code == 201
    r = root.patch(f"orgs/roles/{r.json()['id']}", {"permissions": [Perm.PLACE_VIEW, Perm.ORG_VIEW]})
    assert r.json()["permissions"] == [Perm.ORG_VIEW, Perm.PLACE_VIEW]
    assert api.get("orgs/roles/999999").status_code == 404


def test_O2_assignments_scoped_and_escalation_refused(world, api):
    items = api.get("orgs/assignments").json()["items"]
    assert {i["account_username"] for i in items} == {"worker_a", "boss_a"}
    assert api.get("orgs/assignments", {"account_id": world.acc_b.pk}).status_code == 404
    viewer = Role.objects.get(code="viewer")
    auditor = Role.objects.get(code="auditor")
    r = api.post("orgs/assignments", {"account_id": world.acc_a.pk, "role_id": auditor.pk, "region_id": world.tree.grid_a.pk})
    assert r.status_code == 403 and codes(r) == "role.escalation" and Perm.AUDIT_VIEW in r.json()["detail"]["missing"]
    r = api.post("orgs/assignments", {"account_id": world.acc_b.pk, "role_id": viewer.pk, "region_id": world.tree.grid_a.pk})
    assert r.status_code == 404
    r = api.post("orgs/assignments", {"account_id": world.acc_a.pk, "role_id": viewer.pk, "region_id": world.tree.grid_b.pk})
    assert r.status_code == 404
    r = api.post("orgs/assignments", {"account_id": world.acc_a.pk, "role_id": viewer.pk, "region_id": world.tree.community_a.pk})
    assert r.status_code == 201 and r.json()["region_name"] == "甲社区"
    assert api.delete(f"orgs/assignments/{world.ra_b.pk}").status_code == 404
    assert api.delete(f"orgs/assignments/{r.json()['id']}").status_code == 204
    assert RoleAssignment.objects.filter(pk=world.ra_b.pk).exists()


def test_O2_assignment_list_query_count_constant(world, api, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as small:
        api.get("orgs/assignments")
    role = f.role("r2", [Perm.PLACE_VIEW])
    for _ in range(12):
        RoleAssignment.objects.create(account=f.account(), role=role, region=world.tree.grid_a)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get("orgs/assignments").json()["items"]) == 14


def test_O2_without_permission_lists_are_empty_and_writes_403(world, api_as):
    nobody = api_as(f.account(perms=[Perm.PLACE_VIEW], scope=world.tree.community_a))
    assert nobody.get("orgs/organisations").json()["items"] == []
    assert nobody.get("orgs/accounts").json()["items"] == []
    assert nobody.get(f"orgs/organisations/{world.org_a.pk}").status_code == 404
    r = nobody.post("orgs/organisations", {"type": "merchant", "name": "店", "region_id": world.tree.grid_a.pk})
    assert r.status_code == 403 and codes(r) == "permission.denied"


def test_O2_me_shows_scope(world, api):
    me = api.get("auth/me").json()
    assert me["username"] == "boss_a"
    assert me["permissions"][Perm.ROLE_ASSIGN] == [
        {"id": world.tree.community_a.pk, "name": "甲社区", "path": world.tree.community_a.path}
    ]
