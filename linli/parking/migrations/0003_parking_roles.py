"""Parking permissions on the default roles (O2 roles are data) and the booth role (岗亭收费员).
Permission names are spelled out: a migration must not follow later edits of the enum."""

from django.db import migrations

ALL = ["parking.view", "parking.manage", "parking.operate", "parking.flag"]
ADD = {
    "district_admin": ALL,
    "street_officer": ["parking.view", "parking.flag"],
    "community_worker": ["parking.view", "parking.flag"],
    "property_manager": ALL,
}
NEW = [("parking_booth", "岗亭收费员", "停车场岗亭：查看在场车辆、收费、手工放行与关闭记录", ["parking.view", "parking.operate", "place.view"])]


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
        role.permissions = sorted(p for p in (role.permissions or []) if not p.startswith("parking."))
        role.save(update_fields=["permissions"])
    Role.objects.filter(code__in=[n[0] for n in NEW], is_system=True, assignments__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("parking", "0002_decision_log_displays"), ("orgs", "0003_default_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
