"""V1: who records bin collections and edits collection routes — community, street and district staff
(the property company's cleaners work through their own roles). Permission names spelled out."""

from django.db import migrations

from linli.orgs.migration_grants import grant

ROLES = ["district_admin", "street_officer", "community_worker", "property_manager"]
PERM = "bin.collect"

forwards, backwards = grant({code: [PERM] for code in ROLES}, revoke=[PERM])


class Migration(migrations.Migration):
    dependencies = [("iot", "0008_alarm_escalation"), ("orgs", "0003_default_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
