"""Seed the barrier-gate / door controller type (D1, D5: the ``openGate`` command)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from linli.iot.catalog import seed

    seed(apps.get_model("iot", "DeviceType"), apps.get_model("iot", "Rule"), only={"barrier_gate"})


class Migration(migrations.Migration):
    dependencies = [("iot", "0004_device_command")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
