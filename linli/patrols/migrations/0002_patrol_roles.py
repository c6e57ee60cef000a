"""Patrol permissions on the default roles (O2 roles are data): grid workers perform their own tasks;
community, street and district staff see and manage routes and plans in their scope. Permission
names are spelled out: a migration must not follow later edits of the enum."""

from django.db import migrations

from linli.orgs.migration_grants import grant

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

forwards, backwards = grant(ADD, revoke_prefix="patrol.")


class Migration(migrations.Migration):
    dependencies = [("patrols", "0001_initial"), ("orgs", "0003_default_roles"), ("cases", "0003_case_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
