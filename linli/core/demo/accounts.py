"""Demo roles, staff and resident accounts, and the login table printed by ``demo`` and ``serve``."""

from __future__ import annotations

from dataclasses import dataclass

DEMO_PASSWORD = "linli-demo-2026"

# System roles (code, name, permissions). The orgs app ships the same codes in a data migration; demo
# only fills in roles that are missing, so either order works and the migration's lists win.
_ALL = [
    "place.view", "place.edit", "place.boundary_edit", "person.view", "person.edit", "person.reveal",
    "person.special_group_view", "person.special_group_edit", "person.household_edit", "data.import",
    "data.export", "org.view", "org.edit", "account.view", "account.edit", "role.assign", "audit.view",
]
SYSTEM_ROLES: list[tuple[str, str, list[str]]] = [
    ("district_admin", "区级管理员", _ALL),
    ("street_officer", "街道工作人员", [
        "place.view", "place.edit", "person.view", "person.edit", "person.reveal", "person.special_group_view",
        "person.special_group_edit", "person.household_edit", "data.import", "data.export", "org.view",
        "account.view", "audit.view",
    ]),
    ("community_worker", "社区工作者", [
        "place.view", "place.edit", "person.view", "person.edit", "person.special_group_view",
        "person.special_group_edit", "person.household_edit", "data.import", "data.export", "org.view",
    ]),
    ("grid_worker", "网格员", ["place.view", "person.view", "person.edit", "person.special_group_view", "person.household_edit"]),
    ("hotline_agent", "热线坐席", ["place.view", "person.view", "org.view"]),
    ("property_manager", "物业管理员", ["place.view", "org.view"]),
    ("auditor", "审计员", ["audit.view", "place.view", "org.view", "account.view"]),
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    display_name: str
    role: str  # role code ("" for residents)
    label: str  # what the account is, in Chinese
    surface: str  # /console/ or /portal/


# username, display name, role code, scope key (filled by the builder), label, surface
STAFF_PLAN = [
    ("admin", "系统管理员", "district_admin", "city", "区级管理员(超级用户)", "/console/"),
    ("street", "孙建国", "street_officer", "street", "街道工作人员", "/console/"),
    ("community", "李秀英", "community_worker", "community", "社区工作者", "/console/"),
    ("grid", "王磊", "grid_worker", "grid", "网格员", "/console/"),
    ("hotline", "赵倩", "hotline_agent", "district", "热线坐席", "/console/"),
    ("property", "周海涛", "property_manager", "community", "物业管理员", "/console/"),
    ("auditor", "吴敏", "auditor", "city", "审计员", "/console/"),
]
RESIDENT_USERNAMES = ["resident", "resident2", "resident3"]


def ensure_roles():
    """Create missing system roles (never overwrite a role the orgs migration or an admin set)."""
    from linli.orgs.models import Role

    out = {}
    for code, name, perms in SYSTEM_ROLES:
        role, created = Role.objects.get_or_create(
            code=code, defaults={"name": name, "permissions": perms, "is_system": True}
        )
        if not created and not role.permissions:
            Role.objects.filter(pk=role.pk).update(permissions=perms, is_system=True)
            role.permissions = perms
        out[code] = role
    return out


def logins() -> list[dict]:
    """Demo accounts that exist in the database, for printing (passwords are the demo default)."""
    from linli.orgs.models import Account, RoleAssignment

    names = [p[0] for p in STAFF_PLAN] + RESIDENT_USERNAMES
    accounts = {a.username: a for a in Account.objects.filter(username__in=names)}
    scopes: dict[int, str] = {}
    for ra in RoleAssignment.objects.filter(account__in=accounts.values()).select_related("region"):
        scopes.setdefault(ra.account_id, ra.region.name)
    rows = []
    for username, _name, _role, _scope, label, surface in STAFF_PLAN:
        if username in accounts:
            a = accounts[username]
            rows.append({"username": username, "password": DEMO_PASSWORD, "name": a.display_name,
                         "label": label, "scope": scopes.get(a.pk, ""), "url": surface})
    for username in RESIDENT_USERNAMES:
        if username in accounts:
            a = accounts[username]
            rows.append({"username": username, "password": DEMO_PASSWORD, "name": a.display_name,
                         "label": "居民", "scope": "", "url": "/portal/"})
    return rows


def format_logins(base_url: str = "") -> str:
    rows = logins()
    if not rows:
        return "No demo accounts yet (run: manage.py demo)."
    lines = [f"Demo logins 演示账号 (password 密码: {DEMO_PASSWORD})"]
    for r in rows:
        scope = f" · {r['scope']}" if r["scope"] else ""
        lines.append(f"  {r['username']:<10} {r['label']}{scope} — {r['name']}  → {base_url}{r['url']}")
    return "\n".join(lines)
