"""Parking permissions on the default roles (O2 roles are data) and the booth role (岗亭收费员).
Permission names are spelled out: a migration must not follow later edits of the enum."""

from django.db import migrations

from linli.orgs.migration_grants import grant

ALL = ["parking.view", "parking.manage", "parking.operate", "parking.flag"]
ADD = {
    "district_admin": ALL,
    "street_officer": ["parking.view", "parking.flag"],
    "community_worker": ["parking.view", "parking.flag"],
    "property_manager": ALL,
}
NEW = [("parking_booth", "岗亭收费员", "停车场岗亭：查看在场车辆、收费、手工放行与关闭记录", ["parking.view", "parking.operate", "place.view"])]

forwards, backwards = grant(ADD, NEW, revoke_prefix="parking.")


class Migration(migrations.Migration):
    dependencies = [("parking", "0002_decision_log_displays"), ("orgs", "0003_default_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
