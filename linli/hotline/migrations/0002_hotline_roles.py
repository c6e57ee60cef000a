"""hotline.view on the supervising roles; agents also read the knowledge base they answer from.
Permission names are spelled out: a migration must not follow later edits of the enum."""

from django.db import migrations

ADD = {
    "district_admin": ["hotline.view", "knowledge.view"],
    "street_officer": ["hotline.view", "knowledge.view"],
    "case_supervisor": ["hotline.view"],
    "hotline_agent": ["knowledge.view"],
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
        role.permissions = sorted(p for p in (role.permissions or []) if p != "hotline.view")
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("hotline", "0001_calls"), ("cases", "0003_case_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
