"""O1/O2 services: organisations, accounts, roles, assignments — validation, scope, escalation, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.orgs import perms, selectors, services
from linli.orgs.models import AccountKind, Organisation, OrgType, Role, RoleAssignment
from linli.orgs.perms import Perm
from tests import factories as f

USCC = "91370102MA3C123456"
STRONG = "Qiang-Mima-2026"


@pytest.fixture
def admin(db):
    return f.account("root", superuser=True)


def test_O1_every_org_type_can_be_created(tree, admin):
    for t in OrgType.values:
        org = services.organisation_create(actor=admin, type=t, name=f"机构-{t}", region=tree.community_a)
        assert org.get_type_display()
    assert Organisation.objects.count() == len(OrgType.values)
    assert AuditEntry.objects.filter(action="org.create").count() == len(OrgType.values)


def test_O1_uscc_checked_with_gb32100(tree, admin):
    org = services.organisation_create(actor=admin, type=OrgType.PROPERTY_COMPANY, name="物业", region=tree.street,
                                       uscc=USCC.lower())
    assert org.uscc == USCC
    with pytest.raises(Invalid) as exc:
        services.organisation_create(actor=admin, type=OrgType.MERCHANT, name="商户", region=tree.street,
                                     uscc="91370102MA3C123457")
    assert exc.value.code == "org.uscc_invalid" and exc.value.status == 422
    with pytest.raises(Invalid, match="validation"):
        services.organisation_create(actor=admin, type=OrgType.MERCHANT, name="", region=tree.street)


def test_O1_org_region_must_be_in_edit_scope(tree):
    worker = f.account(perms=[Perm.ORG_EDIT, Perm.ORG_VIEW], scope=tree.community_a)
    org = services.organisation_create(actor=worker, type=OrgType.VOLUNTEER_TEAM, name="志愿队", region=tree.grid_a)
    with pytest.raises(NotFound):
        services.organisation_create(actor=worker, type=OrgType.VOLUNTEER_TEAM, name="志愿队", region=tree.community_b)
    with pytest.raises(NotFound):
        services.organisation_update(actor=worker, organisation=org, region=tree.community_b)
    viewer = f.account(perms=[Perm.ORG_VIEW], scope=tree.community_a)
    with pytest.raises(Forbidden):
        services.organisation_update(actor=viewer, organisation=org, name="改名")
    other = f.account(perms=[Perm.ORG_EDIT, Perm.ORG_VIEW], scope=tree.community_b)
    with pytest.raises(NotFound):
        services.organisation_update(actor=other, organisation=org, name="改名")
    updated = services.organisation_update(actor=worker, organisation=org, name="新志愿队", uscc=USCC)
    entry = AuditEntry.objects.filter(action="org.update").get()
    assert entry.before["name"] == "志愿队" and entry.after["name"] == "新志愿队" == updated.name
    assert entry.region_path == tree.grid_a.path


def test_O1_org_parent_cycle_refused(tree, admin):
    a = services.organisation_create(actor=admin, type=OrgType.STREET_OFFICE, name="街道办", region=tree.street)
    b = services.organisation_create(actor=admin, type=OrgType.COMMUNITY_COMMITTEE, name="居委会", region=tree.community_a,
                                     parent=a)
    with pytest.raises(Invalid) as exc:
        services.organisation_update(actor=admin, organisation=a, parent=b)
    assert exc.value.code == "org.parent_cycle"


def test_O2_account_create_validates_password_and_anchor(tree):
    org_a = f.organisation(tree.community_a)
    org_b = f.organisation(tree.community_b)
    boss = f.account(perms=[Perm.ACCOUNT_EDIT, Perm.ACCOUNT_VIEW], scope=tree.community_a)
    with pytest.raises(Invalid) as exc:
        services.account_create(actor=boss, username="weak", password="12345678", kind="staff", display_name="弱",
                                organisation=org_a)
    assert exc.value.code == "account.password_weak" and exc.value.detail["password"]
    with pytest.raises(Invalid, match="anchor_required"):
        services.account_create(actor=boss, username="x1", password=STRONG, kind="staff", display_name="x")
    with pytest.raises(NotFound):
        services.account_create(actor=boss, username="x2", password=STRONG, kind="staff", display_name="x",
                                organisation=org_b)
    acc = services.account_create(actor=boss, username="x3", password=STRONG, kind="staff", display_name="小李",
                                  phone="13812345678", organisation=org_a)
    assert acc.phone == "+8613812345678" and acc.check_password(STRONG)
    with pytest.raises(Conflict):
        services.account_create(actor=boss, username="X3", password=STRONG, kind="staff", display_name="x",
                                organisation=org_a)
    entry = AuditEntry.objects.filter(action="account.create").get()
    assert entry.after["phone"] == "***" and "password" not in entry.after
    assert entry.region_path == tree.community_a.path


def test_O2_resident_account_links_person_in_scope(tree):
    boss = f.account(perms=[Perm.ACCOUNT_EDIT, Perm.ACCOUNT_VIEW], scope=tree.community_a)
    p_a = f.person(tree.grid_a)
    p_b = f.person(tree.grid_b)
    with pytest.raises(Invalid, match="person_required"):
        services.account_create(actor=boss, username="r0", password=STRONG, kind=AccountKind.RESIDENT, display_name="居民")
    with pytest.raises(NotFound):
        services.account_create(actor=boss, username="r1", password=STRONG, kind=AccountKind.RESIDENT,
                                display_name="居民", person=p_b)
    acc = services.account_create(actor=boss, username="r2", password=STRONG, kind=AccountKind.RESIDENT,
                                  display_name="居民", person=p_a)
    assert acc.person_id == p_a.pk
    with pytest.raises(Conflict):
        services.account_create(actor=boss, username="r3", password=STRONG, kind=AccountKind.RESIDENT,
                                display_name="居民", person=p_a)
    assert selectors.account_get(actor=boss, account_id=acc.pk).pk == acc.pk


def test_O2_account_edit_needs_whole_account_in_scope(tree):
    """A community worker must not take over a street officer who also holds a role in that community."""
    boss_a = f.account(perms=[Perm.ACCOUNT_EDIT, Perm.ACCOUNT_VIEW], scope=tree.community_a)
    officer = f.account(perms=[Perm.PLACE_VIEW], scope=tree.street)
    RoleAssignment.objects.create(account=officer, role=f.role("viewer", [Perm.PLACE_VIEW]), region=tree.community_a)
    assert selectors.account_get(actor=boss_a, account_id=officer.pk)  # visible (anchor in community A)
    with pytest.raises(Forbidden) as exc:
        services.account_set_password(actor=boss_a, account=officer, password=STRONG)
    assert exc.value.code == "account.out_of_scope"
    with pytest.raises(Forbidden):
        services.account_deactivate(actor=boss_a, account=officer)
    b_only = f.account(perms=[Perm.PLACE_VIEW], scope=tree.community_b)
    with pytest.raises(NotFound):
        services.account_update(actor=boss_a, account=b_only, display_name="x")
    superuser = f.account(superuser=True)
    with pytest.raises(NotFound):
        services.account_set_password(actor=boss_a, account=superuser, password=STRONG)
    mine = f.account(perms=[Perm.PLACE_VIEW], scope=tree.grid_a)
    services.account_set_password(actor=boss_a, account=mine, password=STRONG)
    services.account_update(actor=boss_a, account=mine, display_name="新名字", phone="13912345678")
    mine.refresh_from_db()
    assert mine.check_password(STRONG) and mine.display_name == "新名字"
    assert AuditEntry.objects.filter(action="account.set_password", object_id=str(mine.pk)).exists()


def test_O2_own_password_needs_old_password(tree):
    me = f.account(perms=[Perm.PLACE_VIEW], scope=tree.community_a)
    with pytest.raises(Invalid, match="old_password"):
        services.account_set_password(actor=me, account=me, password=STRONG, old_password="nope")
    services.account_set_password(actor=me, account=me, password=STRONG, old_password=f.PASSWORD)
    me.refresh_from_db()
    assert me.check_password(STRONG)


def test_O2_roles_superuser_only_and_known_permissions(tree, admin):
    boss = f.account(perms=[Perm.ROLE_ASSIGN, Perm.ACCOUNT_EDIT], scope=tree.city)
    with pytest.raises(Forbidden) as exc:
        services.role_create(actor=boss, code="x", name="x", permissions=[Perm.PLACE_VIEW])
    assert exc.value.code == "role.superuser_only"
    with pytest.raises(Invalid) as exc:
        services.role_create(actor=admin, code="x", name="x", permissions=[Perm.PLACE_VIEW, "place.fly", "nuke"])
    assert exc.value.code == "role.unknown_permission" and exc.value.detail["unknown"] == ["nuke", "place.fly"]
    role = services.role_create(actor=admin, code="checker", name="检查员", permissions=[Perm.PLACE_VIEW, Perm.PLACE_VIEW])
    assert role.permissions == [Perm.PLACE_VIEW]
    with pytest.raises(Invalid, match="unknown_permission"):
        services.role_update(actor=admin, role=role, permissions=["bogus"])
    role = services.role_update(actor=admin, role=role, permissions=[Perm.PLACE_VIEW, Perm.PERSON_VIEW])
    assert AuditEntry.objects.filter(action="role.update", object_id=str(role.pk)).get().before["permissions"] == [
        Perm.PLACE_VIEW
    ]


def test_O2_registered_perms_become_known(admin):
    perms.register_perms({"test.thing_view": "查看测试对象"})
    role = services.role_create(actor=admin, code="t", name="t", permissions=["test.thing_view"])
    assert role.permissions == ["test.thing_view"]


def test_O2_default_roles_exist_with_known_permissions(db):
    codes = {"district_admin", "street_officer", "community_worker", "grid_worker", "hotline_agent",
             "property_manager", "auditor"}
    roles = {r.code: r for r in Role.objects.filter(is_system=True)}
    assert codes <= set(roles)
    for r in roles.values():
        assert r.permissions and all(perms.is_known(p) for p in r.permissions), r.code
    assert Perm.AUDIT_VIEW in roles["auditor"].permissions
    assert Perm.ROLE_ASSIGN not in roles["grid_worker"].permissions
    assert set(roles["street_officer"].permissions) <= set(roles["district_admin"].permissions)


def test_O2_role_assign_scope_and_no_escalation(tree):
    street_boss = f.account("streetboss", perms=[], scope=None)
    RoleAssignment.objects.create(account=street_boss, role=Role.objects.get(code="street_officer"), region=tree.street)
    worker = f.account(organisation=f.organisation(tree.community_a))
    community_worker = Role.objects.get(code="community_worker")  # includes person.reveal, special-group edit
    grid_worker = Role.objects.get(code="grid_worker")
    with pytest.raises(Forbidden) as exc:
        services.role_assign(actor=street_boss, account=worker, role=community_worker, region=tree.community_a)
    assert exc.value.code == "role.escalation" and Perm.PERSON_REVEAL in exc.value.detail["missing"]
    ra = services.role_assign(actor=street_boss, account=worker, role=grid_worker, region=tree.grid_a)
    assert ra.granted_by_id == street_boss.pk
    assert worker.scope_paths(Perm.PERSON_EDIT) == [tree.grid_a.path]
    with pytest.raises(Conflict):
        services.role_assign(actor=street_boss, account=worker, role=grid_worker, region=tree.grid_a)
    with pytest.raises(NotFound):
        services.role_assign(actor=street_boss, account=worker, role=grid_worker, region=tree.district)
    with pytest.raises(Invalid):
        services.role_assign(actor=street_boss, account=worker, role=grid_worker, region=tree.grid_b,
                             valid_until=timezone.now() - dt.timedelta(days=1))
    entry = AuditEntry.objects.filter(action="role.assign").get()
    assert entry.region_path == tree.grid_a.path and Perm.PERSON_EDIT in entry.after["permissions"]
    # revoke: a narrower assigner cannot revoke what they could not grant
    community_boss = f.account(perms=[Perm.ROLE_ASSIGN, Perm.ACCOUNT_VIEW], scope=tree.community_a)
    with pytest.raises(Forbidden, match="escalation"):
        services.role_revoke(actor=community_boss, assignment=ra)
    services.role_revoke(actor=street_boss, assignment=ra)
    assert not RoleAssignment.objects.filter(pk=ra.pk).exists()
    assert AuditEntry.objects.filter(action="role.revoke", object_id=str(ra.pk)).exists()


def test_O2_expired_assignment_grants_nothing(tree):
    acc = f.account()
    RoleAssignment.objects.create(account=acc, role=f.role("v", [Perm.PLACE_VIEW]), region=tree.community_a,
                                  valid_until=timezone.now() - dt.timedelta(seconds=1))
    assert acc.scope_paths(Perm.PLACE_VIEW) == []
    assert selectors.my_permissions(acc) == {}


def test_O2_my_permissions_and_has_perm_anywhere(tree):
    acc = f.account(perms=[Perm.PLACE_VIEW, Perm.PERSON_VIEW], scope=tree.community_a)
    RoleAssignment.objects.create(account=acc, role=f.role("v2", [Perm.PLACE_VIEW]), region=tree.grid_a)
    RoleAssignment.objects.create(account=acc, role=f.role("v3", [Perm.PLACE_VIEW]), region=tree.community_b)
    mine = selectors.my_permissions(acc)
    assert [r["name"] for r in mine[Perm.PLACE_VIEW]] == ["甲社区", "乙社区"]  # grid A folded into community A
    assert [r["id"] for r in mine[Perm.PERSON_VIEW]] == [tree.community_a.pk]
    assert selectors.has_perm_anywhere(acc, Perm.PLACE_VIEW)
    assert not selectors.has_perm_anywhere(acc, Perm.AUDIT_VIEW)
    admin = f.account(superuser=True)
    assert [r["name"] for r in selectors.my_permissions(admin)[Perm.AUDIT_VIEW]] == ["济南市"]
