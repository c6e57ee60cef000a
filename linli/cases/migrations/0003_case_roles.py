"""Case permissions on the default roles (O2 roles are data) and two roles of the case loop.
Permission names are spelled out: a migration must not follow later edits of the enum."""

from django.db import migrations

from linli.orgs.migration_grants import grant

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

forwards, backwards = grant(ADD, NEW, revoke_prefix="case.")


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_seed_calendar_categories"), ("orgs", "0003_default_roles")]
    operations = [migrations.RunPython(forwards, backwards)]
