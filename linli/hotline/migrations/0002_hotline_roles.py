"""hotline.view on the supervising roles; agents also read the knowledge base they answer from.
Permission names are spelled out: a migration must not follow later edits of the enum."""

from django.db import migrations

from linli.orgs.migration_grants import grant

ADD = {
    "district_admin": ["hotline.view", "knowledge.view"],
    "street_officer": ["hotline.view", "knowledge.view"],
    "case_supervisor": ["hotline.view"],
    "hotline_agent": ["knowledge.view"],
}

# Backwards revokes hotline.view only, as it always has: knowledge.view stays on the roles.
forwards, backwards = grant(ADD, revoke=["hotline.view"])


class Migration(migrations.Migration):
    dependencies = [("hotline", "0001_calls"), ("cases", "0003_case_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
