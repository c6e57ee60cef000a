"""Notifications (C3): an in-app row per recipient, copied to pluggable external channels.

``settings.LINLI_NOTIFIERS`` lists dotted paths of ``Notifier`` classes (default: log-only SMS,
WeCom and email). A real gateway implements ``send(notification) -> None`` and raises on failure.
Rows are written inside the caller's transaction; delivery runs as a task after commit and marks
each row ``delivered_at`` with a conditional UPDATE first, so a retried task never sends twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import Notification

log = logging.getLogger("linli.notify")

DEFAULT_NOTIFIERS = (
    "linli.cases.notify.LogSmsNotifier",
    "linli.cases.notify.LogWeComNotifier",
    "linli.cases.notify.LogEmailNotifier",
)


class Notifier(Protocol):
    channel: str

    def send(self, notification: Notification) -> None: ...


class LogNotifier:
    """Writes what it would send to the log (no personal data: recipient id and case number only)."""

    channel = "log"

    def send(self, notification: Notification) -> None:
        log.info(
            "notify channel=%s recipient=%s case=%s kind=%s message=%s",
            self.channel, notification.recipient_id, notification.case_id, notification.kind, notification.message,
        )


class LogSmsNotifier(LogNotifier):
    channel = "sms"


class LogWeComNotifier(LogNotifier):
    channel = "wecom"


class LogEmailNotifier(LogNotifier):
    channel = "email"


@lru_cache(maxsize=4)
def _load(paths: tuple[str, ...]) -> tuple[Notifier, ...]:
    return tuple(import_string(p)() for p in paths)


def notifiers() -> tuple[Notifier, ...]:
    return _load(tuple(getattr(settings, "LINLI_NOTIFIERS", DEFAULT_NOTIFIERS)))


DELIVERY_CHUNK = 500  # notifications per delivery task: a big sweep spreads over several workers


def insert_keyed(cols: dict[str, list]) -> list[int]:
    """Insert keyed notifications given column-wise (``recipient_id``, ``case_id``, ``kind``, ``key``,
    ``message``), dropping those whose (recipient, case, key) exists: INSERT … ON CONFLICT DO NOTHING
    RETURNING id. On PostgreSQL the columns travel as five arrays (``unnest``): one short statement
    for any number of rows. Returns the ids actually inserted."""
    table = Notification._meta.db_table
    names = ["recipient_id", "case_id", "kind", "key", "message"]
    n = len(cols["recipient_id"])
    if not n:
        return []
    now = timezone.now()
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"INSERT INTO {table} (recipient_id, case_id, kind, key, message, created_at) "
                "SELECT r, c, k, y, m, %s FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[]) AS t(r, c, k, y, m) "
                "ON CONFLICT DO NOTHING RETURNING id",
                [now, *(cols[name] for name in names)],
            )
            return [r[0] for r in cur.fetchall()]
        ids: list[int] = []
        for i in range(0, n, 1000):
            rows = list(zip(*(cols[name][i:i + 1000] for name in names), strict=True))
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
            cur.execute(f"INSERT INTO {table} (recipient_id, case_id, kind, key, message, created_at) VALUES {values} "
                        "ON CONFLICT DO NOTHING RETURNING id", [v for r in rows for v in (*r, now)])
            ids += [r[0] for r in cur.fetchall()]
        return ids


def deliver_after_commit(ids: list[int]) -> None:
    """Enqueue delivery of ``ids`` once the transaction commits, ``DELIVERY_CHUNK`` per task."""
    from .tasks import deliver_notifications

    ids = sorted(set(ids))
    for i in range(0, len(ids), DELIVERY_CHUNK):
        chunk = ids[i:i + DELIVERY_CHUNK]
        transaction.on_commit(lambda chunk=chunk: deliver_notifications.enqueue(chunk))


def notify(*, rows: Iterable[Notification]) -> list[int]:
    """Insert in-app notifications (duplicates by key are dropped) and deliver them after commit,
    in tasks of ``DELIVERY_CHUNK`` notifications."""
    rows = list(rows)
    if not rows:
        return []
    keyed = [r for r in rows if r.key]
    plain = [r for r in rows if not r.key]
    ids = [n.pk for n in Notification.objects.bulk_create(plain) if n.pk]
    if keyed:
        ids += insert_keyed({
            "recipient_id": [r.recipient_id for r in keyed], "case_id": [r.case_id for r in keyed], "kind": [r.kind for r in keyed],
            "key": [r.key for r in keyed], "message": [r.message[:300] for r in keyed],
        })
    deliver_after_commit(ids)
    return sorted(set(ids))


def deliver(ids: list[int]) -> int:
    """Send each not-yet-delivered notification through every external channel; returns count.

    The rows are claimed first with one conditional ``UPDATE … RETURNING`` (a retried or concurrent
    task claims nothing twice), then sent."""
    if not ids:
        return 0
    now = timezone.now()
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {Notification._meta.db_table} SET delivered_at = %s WHERE id IN ({marks}) AND delivered_at IS NULL RETURNING id",
                    [now, *ids])
        claimed = [r[0] for r in cur.fetchall()]
    for n in Notification.objects.filter(pk__in=claimed).select_related("case").order_by("id"):
        for notifier in notifiers():
            try:
                notifier.send(n)
            except Exception:  # one channel failing must not stop the others
                log.exception("notifier %s failed for notification %s", notifier.channel, n.pk)
    return len(claimed)
