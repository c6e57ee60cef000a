"""Row writer for the demo's big tables: ids assigned here, rows sent by COPY (PostgreSQL) or
executemany (SQLite). The ORM's per-field work would make a million persons take half an hour.

Values are given by attname (``region_id``); unspecified fields take the model default, timestamps
are "now". Only plain types are converted (date, datetime, Decimal, bool, JSON); encrypted fields
must be passed already encrypted (pii.encrypt). Sequences are reset at ``close()``. Foreign keys are
deferred to commit on both backends, so tables may flush in any order inside the transaction.
"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.color import no_style
from django.db import connection
from django.db.models import BooleanField, DateField, DateTimeField, DecimalField, JSONField, Max
from django.utils import timezone

FLUSH_ROWS = 5000
_MISSING = object()


def _json(v) -> str:
    return json.dumps(v, ensure_ascii=False)


def _sqlite_datetime(v: dt.datetime) -> str:
    return v.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")


class Table:
    def __init__(self, writer: BulkWriter, model) -> None:
        self.model = model
        self.pg = writer.pg
        fields = list(model._meta.concrete_fields)
        self.sql_cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        self.table = connection.ops.quote_name(model._meta.db_table)
        self.spec = []  # (attname, converter or None, converted default)
        for f in fields:
            conv = writer.converter(f)
            auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            default = writer.now if auto else f.get_default()  # model default, "" for text, else None
            self.spec.append((f.attname, conv, conv(default) if conv and default is not None else default))
        self.next_id = (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        self.rows: list[tuple] = []

    def add(self, **values) -> int:
        pk = values["id"] = self.next_id
        self.next_id += 1
        row = []
        for name, conv, default in self.spec:
            v = values.get(name, _MISSING)
            row.append(default if v is _MISSING else (conv(v) if conv and v is not None else v))
        self.rows.append(tuple(row))
        if len(self.rows) >= FLUSH_ROWS:
            self.flush()
        return pk

    def flush(self) -> None:
        if not self.rows:
            return
        with connection.cursor() as cur:
            if self.pg:
                with cur.cursor.copy(f"COPY {self.table} ({self.sql_cols}) FROM STDIN") as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.spec))
                cur.executemany(f"INSERT INTO {self.table} ({self.sql_cols}) VALUES ({marks})", self.rows)
        self.rows = []


class BulkWriter:
    def __init__(self) -> None:
        self.pg = connection.vendor == "postgresql"
        self.now = timezone.now()
        self.tables: dict[type, Table] = {}

    def __getitem__(self, model) -> Table:
        if model not in self.tables:
            self.tables[model] = Table(self, model)
        return self.tables[model]

    def converter(self, f):
        """Python value → what the driver takes for field ``f`` (None: as is)."""
        if isinstance(f, JSONField):
            return _json
        if isinstance(f, DecimalField):
            return str
        if self.pg:
            return None
        if isinstance(f, BooleanField):
            return int
        if isinstance(f, DateTimeField):
            return _sqlite_datetime
        if isinstance(f, DateField):
            return dt.date.isoformat
        return None

    def close(self) -> None:
        for t in self.tables.values():
            t.flush()
        sql = connection.ops.sequence_reset_sql(no_style(), [t.model for t in self.tables.values()])
        with connection.cursor() as cur:
            for stmt in sql:
                cur.execute(stmt)
