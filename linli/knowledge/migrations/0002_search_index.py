"""Full-text index (L2): FTS5 table on SQLite, generated tsvector column + GIN index on PostgreSQL."""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_article_fts USING fts5(title, keywords, body, tokenize='unicode61')",
]
SQLITE_DOWN = ["DROP TABLE IF EXISTS knowledge_article_fts"]
PG_UP = [
    "ALTER TABLE knowledge_article ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    " setweight(to_tsvector('simple'::regconfig, coalesce(search_title, '')), 'A')"
    " || setweight(to_tsvector('simple'::regconfig, coalesce(search_keywords, '')), 'B')"
    " || setweight(to_tsvector('simple'::regconfig, coalesce(search_body, '')), 'C')) STORED",
    "CREATE INDEX knowledge_article_search_gin ON knowledge_article USING gin (search_vector)",
]
PG_DOWN = ["DROP INDEX IF EXISTS knowledge_article_search_gin", "ALTER TABLE knowledge_article DROP COLUMN IF EXISTS search_vector"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        migrations.RunPython(_run({"sqlite": SQLITE_UP, "postgresql": PG_UP}), _run({"sqlite": SQLITE_DOWN, "postgresql": PG_DOWN})),
    ]
