"""PostgreSQL: iot_telemetry becomes PARTITION BY RANGE (ts), monthly partitions + DEFAULT. SQLite: no-op."""

from django.db import migrations


def forwards(apps, schema_editor):
    from linli.iot.partitions import make_partitioned

    make_partitioned(schema_editor)


def backwards(apps, schema_editor):
    from linli.iot.partitions import make_plain

    make_plain(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("iot", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
