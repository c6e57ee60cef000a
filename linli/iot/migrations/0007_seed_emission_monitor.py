"""Seed the transfer-station emission monitor type (V2) and refresh the trash-bin type (V1)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from linli.iot.catalog import seed

    seed(apps.get_model("iot", "DeviceType"), apps.get_model("iot", "Rule"), only={"emission_monitor", "trash_bin"})


class Migration(migrations.Migration):
    dependencies = [("iot", "0006_history_rollups_environment")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
