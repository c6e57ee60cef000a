"""Enforce append-only in the database itself: UPDATE and DELETE on audit entries are refused."""

from django.db import migrations

from linli.audit import triggers


def forwards(apps, schema_editor):
    triggers.restore(schema_editor.connection.cursor(), schema_editor.connection.vendor)


def backwards(apps, schema_editor):
    triggers.lift(schema_editor.connection.cursor(), schema_editor.connection.vendor)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
