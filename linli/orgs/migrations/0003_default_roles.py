"""Default system roles (O2). Permission names are spelled out: a migration must not follow later
edits of the Perm enum. Other domains add their own roles/permissions in their own migrations."""

from django.db import migrations

VIEW = ["place.view", "person.view", "org.view"]
ALL_FOUNDATION = [
    "place.view", "place.edit", "place.boundary_edit",
    "person.view", "person.edit", "person.reveal", "person.special_group_view", "person.special_group_edit",
    "person.household_edit", "data.import", "data.export",
    "org.view", "org.edit", "account.view", "account.edit", "role.assign",
    "audit.view",
]

ROLES = [
    ("district_admin", "区级管理员", "区（县）范围内的全部基础权限，含账号与角色分配", ALL_FOUNDATION),
    ("street_officer", "街道干部", "街道范围：人房管理、组织与账号、角色分配", [
        "place.view", "place.edit", "person.view", "person.edit", "person.special_group_view",
        "person.household_edit", "data.import", "data.export",
        "org.view", "org.edit", "account.view", "account.edit", "role.assign",
    ]),
    ("community_worker", "社区工作者", "社区范围：人房信息采集与维护、特殊人群", [
        "place.view", "place.edit", "person.view", "person.edit", "person.reveal",
        "person.special_group_view", "person.special_group_edit", "person.household_edit",
        "data.import", "data.export", "org.view", "account.view",
    ]),
    ("grid_worker", "网格员", "网格范围：走访、人房信息维护", [
        "place.view", "person.view", "person.edit", "person.household_edit", "person.special_group_view", "org.view",
    ]),
    ("hotline_agent", "热线坐席", "受理来电：查看区域、人员（脱敏）与组织", list(VIEW)),
    ("property_manager", "物业管理员", "物业服务范围：房屋信息维护", ["place.view", "place.edit", "person.view", "org.view"]),
    ("auditor", "审计员", "查看审计日志及基础信息（只读）", ["audit.view", "place.view", "org.view", "account.view"]),
]


def create_roles(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    for code, name, description, perms in ROLES:
        Role.objects.update_or_create(
            code=code,
            defaults={"name": name, "description": description, "permissions": sorted(perms), "is_system": True},
        )


def delete_roles(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    Role.objects.filter(code__in=[r[0] for r in ROLES], is_system=True, assignments__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("orgs", "0002_initial")]

    operations = [migrations.RunPython(create_roles, delete_roles)]
