"""Starter set of knowledge articles (L2): loaded on every install; idempotent (by code / slug)."""

from django.db import migrations


def load(apps, schema_editor):
    from linli.knowledge.starter import load_starter

    load_starter(apps.get_model("knowledge", "Category"), apps.get_model("knowledge", "Article"),
                 apps.get_model("knowledge", "ArticleVersion"), connection=schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_search_index")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
