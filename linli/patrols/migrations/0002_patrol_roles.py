"""Patrol permissions on the default roles (O2 roles are data): grid workers perform their own tasks;
community, street and district staff see and manage routes and plans in their scope. Permission
names are spelled out: a migration must not follow later edits of the enum."""

from django.db import migrations

# District and street staff assign the grid_worker role; they may only grant what they hold (O2, no
# escalation), so they also hold patrol.perform (they may walk a patrol themselves).
ADD = {
    "district_admin": ["patrol.view", "patrol.manage", "patrol.perform"],
    "street_officer": ["patrol.view", "patrol.manage", "patrol.perform"],
    "community_worker": ["patrol.view", "patrol.manage"],
    "grid_worker": ["patrol.perform"],
    "case_supervisor": ["patrol.view"],
    "auditor": ["patrol.view"],
}


def forwards(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    for code, perms in ADD.items():
        role = Role.objects.filter(code=code).first()
        if role is not None:
            role.permissions = sorted(set(role.permissions or []) | set(perms))
            role.save(update_fields=["permissions"])


def backwards(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    for role in Role.objects.filter(code__in=list(ADD)):
        role.permissions = sorted(p for p in (role.permissions or []) if not p.startswith("patrol."))
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("patrols", "0001_initial"), ("orgs", "0003_default_roles"), ("cases", "0003_case_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
