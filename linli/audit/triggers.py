"""Database triggers that make the audit table append-only (UPDATE and DELETE refused).

Used by migration 0002 and by the test suite (which must empty the table between transactional
tests). The hash chain stays the real tamper evidence: whoever can drop a trigger can do anything.
"""

from __future__ import annotations

PG_INSTALL = [
    """CREATE OR REPLACE FUNCTION linli_audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit entries are append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_no_update ON audit_auditentry",
    "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit_auditentry FOR EACH ROW EXECUTE FUNCTION linli_audit_append_only()",
]
PG_LIFT = ["DROP TRIGGER IF EXISTS audit_no_update ON audit_auditentry"]
SQLITE_INSTALL = [
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_auditentry BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_auditentry BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
]
SQLITE_LIFT = ["DROP TRIGGER IF EXISTS audit_no_update", "DROP TRIGGER IF EXISTS audit_no_delete"]


def _run(cursor, statements: list[str]) -> None:
    for sql in statements:
        cursor.execute(sql)


def restore(cursor, vendor: str) -> None:
    _run(cursor, PG_INSTALL if vendor == "postgresql" else SQLITE_INSTALL if vendor == "sqlite" else [])


def lift(cursor, vendor: str) -> None:
    _run(cursor, PG_LIFT if vendor == "postgresql" else SQLITE_LIFT if vendor == "sqlite" else [])
