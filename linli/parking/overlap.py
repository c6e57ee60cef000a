"""No two active bookings of one resource (a shared space, a charger) overlap in time — enforced by
the database, not only checked: on PostgreSQL an ``EXCLUDE USING gist`` constraint over
(resource =, tstzrange(start, end) &&) for the active statuses (needs ``btree_gist``); on SQLite a
BEFORE INSERT and a BEFORE UPDATE trigger that abort on an overlapping active row. Both raise
``IntegrityError``; ``book`` maps it to a 409 with the service's code. ``installer`` is used by the
parking migrations (which spell out their table, key and name), ``book`` by the booking services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Booking

ACTIVE = ("booked", "in_use")


def _constraint(name: str, key: str) -> Any:
    from django.contrib.postgres.constraints import ExclusionConstraint
    from django.contrib.postgres.fields import RangeBoundary, RangeOperators
    from django.contrib.postgres.fields.ranges import DateTimeRangeField
    from django.db.models import F, Func, Q

    class TsTzRange(Func):
        function = "TSTZRANGE"
        output_field = DateTimeRangeField()

    return ExclusionConstraint(name=name, expressions=[(F(key), RangeOperators.EQUAL),
                                                       (TsTzRange("start_at", "end_at", RangeBoundary()), RangeOperators.OVERLAPS)],
                               condition=Q(status__in=ACTIVE))


def _sqlite_sql(table: str, key: str, name: str) -> list[str]:
    active = ", ".join(f"'{s}'" for s in ACTIVE)
    out = []
    for event, extra in (("INSERT", ""), ("UPDATE", " AND b.id <> NEW.id")):
        out.append(
            f"CREATE TRIGGER {name}_{event.lower()} BEFORE {event} ON {table} "
            f"WHEN NEW.status IN ({active}) BEGIN "
            f"SELECT RAISE(ABORT, '{name}: overlapping active booking') WHERE EXISTS ("
            f"SELECT 1 FROM {table} b WHERE b.{key} = NEW.{key} AND b.status IN ({active}){extra} "
            f"AND b.start_at < NEW.end_at AND NEW.start_at < b.end_at); END")
    return out


def installer(app_label: str, model_name: str, key: str, name: str):
    """(forwards, backwards) for ``migrations.RunPython``."""

    def forwards(apps, schema_editor):
        model = apps.get_model(app_label, model_name)
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.add_constraint(model, _constraint(name, key))
        elif vendor == "sqlite":
            for sql in _sqlite_sql(model._meta.db_table, f"{key}_id", name):
                schema_editor.execute(sql)
        else:  # pragma: no cover - only PostgreSQL and SQLite are supported
            raise NotImplementedError(vendor)

    def backwards(apps, schema_editor):
        model = apps.get_model(app_label, model_name)
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.remove_constraint(model, _constraint(name, key))
        elif vendor == "sqlite":
            for event in ("insert", "update"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}_{event}")

    return forwards, backwards


def lost_race(exc: BaseException) -> bool:
    """True when a failed INSERT lost to a concurrent booking of the same slot: the guard's violation
    (IntegrityError) or, on PostgreSQL, the deadlock two concurrent inserts into an exclusion
    constraint can end in (SQLSTATE 40P01) — PostgreSQL then aborts one of them instead of reporting
    a violation. Either way the other booking holds the slot."""
    from django.db import IntegrityError, OperationalError

    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) == "40P01"


def book(model: type[Booking], *, taken: Exception, **fields: Any) -> Booking:
    """Create an active booking unless its resource (``model.RESOURCE``, given in ``fields`` as the
    object or as ``<resource>_id``) is booked for an overlapping time; then raise ``taken`` (a 409).
    The check answers the common case without a failed INSERT; the database guard decides the races
    the check cannot see (``lost_race``). Runs inside the calling service's transaction."""
    from django.db import IntegrityError, OperationalError, transaction

    key = model.RESOURCE
    same = {key: fields[key]} if key in fields else {f"{key}_id": fields[f"{key}_id"]}
    if model.overlapping(fields["start_at"], fields["end_at"]).filter(**same).exists():
        raise taken
    try:
        with transaction.atomic():
            return model.objects.create(**fields)
    except (IntegrityError, OperationalError) as exc:
        if not lost_race(exc):
            raise
        raise taken from exc
