"""Case permissions on the default roles (O2 roles are data) and two roles of the case loop.
Permission names are spelled out: a migration must not follow later edits of the enum."""

from django.db import migrations

ADD = {
    "district_admin": ["case.view", "case.intake", "case.accept", "case.dispatch", "case.handle", "case.verify", "case.close",
                       "case.supervise", "case.config"],
    "street_officer": ["case.view", "case.intake", "case.accept", "case.dispatch", "case.verify", "case.close", "case.supervise"],
    "community_worker": ["case.view", "case.intake", "case.accept", "case.dispatch", "case.verify", "case.close"],
    "grid_worker": ["case.view", "case.intake", "case.accept", "case.verify"],
    "hotline_agent": ["case.view", "case.intake"],
    "property_manager": ["case.view", "case.handle"],
}

NEW = [
    ("case_handler", "部门办理人员", "责任单位：接收派单、处置、转办、退回", ["case.view", "case.handle", "org.view"]),
    ("case_supervisor", "督办员", "接收超时升级并督办", ["case.view", "case.supervise", "org.view", "place.view"]),
]


def forwards(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    for code, perms in ADD.items():
        role = Role.objects.filter(code=code).first()
        if role is not None:
            role.permissions = sorted(set(role.permissions or []) | set(perms))
            role.save(update_fields=["permissions"])
    for code, name, description, perms in NEW:
        Role.objects.update_or_create(code=code, defaults={"name": name, "description": description, "permissions": sorted(perms), "is_system": True})


def backwards(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    for role in Role.objects.filter(code__in=list(ADD)):
        role.permissions = sorted(p for p in (role.permissions or []) if not p.startswith("case."))
        role.save(update_fields=["permissions"])
    Role.objects.filter(code__in=[n[0] for n in NEW], is_system=True, assignments__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_seed_calendar_categories"), ("orgs", "0003_default_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
