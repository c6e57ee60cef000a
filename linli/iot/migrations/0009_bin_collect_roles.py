"""V1: who records bin collections and edits collection routes — community, street and district staff
(the property company's cleaners work through their own roles). Permission names spelled out."""

from django.db import migrations

ROLES = ["district_admin", "street_officer", "community_worker", "property_manager"]
PERM = "bin.collect"


def forwards(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    for role in Role.objects.filter(code__in=ROLES):
        role.permissions = sorted(set(role.permissions or []) | {PERM})
        role.save(update_fields=["permissions"])


def backwards(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    for role in Role.objects.filter(code__in=ROLES):
        role.permissions = sorted(p for p in (role.permissions or []) if p != PERM)
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("iot", "0008_alarm_escalation"), ("orgs", "0003_default_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
