"""O2 roles are data: the default roles after ``migrate``, and the one helper every domain migration
grants its permissions with (``linli.orgs.migration_grants.grant``)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from linli.orgs.migration_grants import grant
from linli.orgs.models import Role, RoleAssignment
from tests import factories as f

# The data migrations that grant permissions to roles, in an order their dependencies allow.
GRANT_MIGRATIONS = [
    "linli.cases.migrations.0003_case_roles",
    "linli.parking.migrations.0003_parking_roles",
    "linli.iot.migrations.0009_bin_collect_roles",
    "linli.patrols.migrations.0002_patrol_roles",
    "linli.hotline.migrations.0002_hotline_roles",
]
DEFAULT_ROLES = importlib.import_module("linli.orgs.migrations.0003_default_roles").ROLES


def _perms() -> dict[str, set[str]]:
    return {r.code: set(r.permissions) for r in Role.objects.filter(is_system=True)}


def test_O2_district_admin_holds_every_system_role(db):
    """区级管理员 has "全部基础权限，含账号与角色分配" over its district, and O2 forbids escalation: an
    assigner may only grant permissions it holds. The district admin is the top of the default
    roles and assigns all of them, so after every domain migration it must hold the permissions of
    every system role (domain migrations give it each new permission as it appears)."""
    roles = _perms()
    assert len(roles) >= 10  # the seven default roles plus the roles the domains add
    for code, perms in roles.items():
        assert perms <= roles["district_admin"], (code, perms - roles["district_admin"])


def test_O2_street_officer_can_assign_grid_worker(db):
    """街道干部 assign the 网格员 role (patrol migration: "District and street staff assign the
    grid_worker role; they may only grant what they hold"), so street_officer ⊇ grid_worker.

    Not every lower role is a subset by design: a community worker reveals personal data and edits
    special groups (person.reveal, person.special_group_edit), which a street officer does not do,
    so street_officer ⊉ community_worker, and only the two assigning roles hold role.assign."""
    roles = _perms()
    assert roles["grid_worker"] <= roles["street_officer"], roles["grid_worker"] - roles["street_officer"]
    assert roles["street_officer"] <= roles["district_admin"]
    assert {"person.reveal", "person.special_group_edit"} <= roles["community_worker"] - roles[
        "street_officer"
    ]
    assert {c for c, p in roles.items() if "role.assign" in p} == {"district_admin", "street_officer"}


def test_O2_domain_grants_round_trip_on_fresh_default_roles(db):
    """The domain migrations' forwards on a fresh set of default roles give exactly the roles that
    ``migrate`` left; their backwards, in reverse order, give the default roles back (hotline's
    backwards revokes hotline.view only, so knowledge.view stays where it granted it)."""
    migrated = _perms()
    Role.objects.all().delete()
    importlib.import_module("linli.orgs.migrations.0003_default_roles").create_roles(apps, None)
    defaults = _perms()
    assert defaults == {code: set(perms) for code, _, _, perms in DEFAULT_ROLES}
    modules = [importlib.import_module(name) for name in GRANT_MIGRATIONS]
    for m in modules:
        m.forwards(apps, None)
    assert _perms() == migrated
    for m in reversed(modules):
        m.backwards(apps, None)
    expected = dict(defaults)
    for code in ("district_admin", "street_officer", "hotline_agent"):
        expected[code] = defaults[code] | {"knowledge.view"}
    assert _perms() == expected


ADD = {
    "district_admin": ["demo.view", "demo.edit"],
    "grid_worker": ["demo.view"],
    "no_such_role": ["demo.view"],
}
NEW = [("demo_clerk", "演示岗", "演示用角色", ["demo.view", "place.view"])]


@pytest.fixture
def fresh_roles(db):
    Role.objects.all().delete()
    Role.objects.create(
        code="district_admin", name="区", permissions=["place.view", "demo.old"], is_system=True
    )
    Role.objects.create(code="grid_worker", name="网格", permissions=["place.view"], is_system=True)
    Role.objects.create(code="auditor", name="审计", permissions=["demo.view"], is_system=True)


def test_O2_grant_forwards_adds_and_creates_idempotently(fresh_roles):
    forwards, _ = grant(ADD, NEW, revoke_prefix="demo.")
    forwards(apps, None)
    after = _perms()
    forwards(apps, None)
    assert _perms() == after
    assert after == {
        "district_admin": {"place.view", "demo.old", "demo.view", "demo.edit"},
        "grid_worker": {"place.view", "demo.view"},
        "auditor": {"demo.view"},
        "demo_clerk": {"demo.view", "place.view"},
    }
    clerk = Role.objects.get(code="demo_clerk")
    assert (clerk.name, clerk.description, clerk.permissions) == (
        "演示岗",
        "演示用角色",
        ["demo.view", "place.view"],
    )
    assert Role.objects.get(code="district_admin").permissions == sorted(after["district_admin"])
    assert not Role.objects.filter(code="no_such_role").exists()


def test_O2_grant_backwards_by_prefix_only_touches_named_roles(fresh_roles):
    forwards, backwards = grant(ADD, NEW, revoke_prefix="demo.")
    forwards(apps, None)
    backwards(apps, None)
    # every demo.* permission leaves the named roles (also one they held before); other roles keep theirs
    assert _perms() == {
        "district_admin": {"place.view"},
        "grid_worker": {"place.view"},
        "auditor": {"demo.view"},
    }


def test_O2_grant_backwards_by_name_revokes_only_those(fresh_roles):
    forwards, backwards = grant(ADD, revoke=["demo.edit"])
    forwards(apps, None)
    backwards(apps, None)
    assert _perms() == {
        "district_admin": {"place.view", "demo.old", "demo.view"},
        "grid_worker": {"place.view", "demo.view"},
        "auditor": {"demo.view"},
    }


def test_O2_grant_backwards_keeps_new_roles_in_use(fresh_roles):
    forwards, backwards = grant(ADD, NEW, revoke_prefix="demo.")
    forwards(apps, None)
    account = f.account("clerk", perms=[], scope=None)
    RoleAssignment.objects.create(
        account=account, role=Role.objects.get(code="demo_clerk"), region=f.region("district")
    )
    backwards(apps, None)
    assert Role.objects.filter(code="demo_clerk").exists()
    RoleAssignment.objects.all().delete()
    Role.objects.filter(code="demo_clerk").update(is_system=False)
    backwards(apps, None)
    assert Role.objects.filter(code="demo_clerk").exists()  # no longer a system role: not ours to delete
    Role.objects.filter(code="demo_clerk").update(is_system=True)
    backwards(apps, None)
    assert not Role.objects.filter(code="demo_clerk").exists()


@pytest.mark.parametrize("kwargs", [{}, {"revoke_prefix": "demo.", "revoke": ["demo.view"]}])
def test_O2_grant_needs_exactly_one_way_back(kwargs):
    with pytest.raises(ValueError):
        grant(ADD, **kwargs)
