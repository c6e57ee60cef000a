"""Seed common device types and their default rules (D1, D3)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from linli.iot.catalog import seed

    seed(apps.get_model("iot", "DeviceType"), apps.get_model("iot", "Rule"))


class Migration(migrations.Migration):
    dependencies = [("iot", "0002_telemetry_partitioned")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
