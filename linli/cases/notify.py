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
from django.db import transaction
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


def notify(*, rows: Iterable[Notification]) -> list[int]:
    """Insert in-app notifications (duplicates by key are dropped) and deliver them after commit."""
    rows = list(rows)
    if not rows:
        return []
    keyed = [r for r in rows if r.key]
    plain = [r for r in rows if not r.key]
    created = Notification.objects.bulk_create(plain)
    if keyed:
        Notification.objects.bulk_create(keyed, ignore_conflicts=True)
        keys = {(r.recipient_id, r.case_id, r.key) for r in keyed}
        created += [
            n for n in Notification.objects.filter(
                key__in={k for _, _, k in keys}, case_id__in={c for _, c, _ in keys}, delivered_at__isnull=True
            ) if (n.recipient_id, n.case_id, n.key) in keys
        ]
    ids = sorted({n.pk for n in created if n.pk})
    if ids:
        from .tasks import deliver_notifications

        transaction.on_commit(lambda: deliver_notifications.enqueue(ids))
    return ids


def deliver(ids: list[int]) -> int:
    """Send each not-yet-delivered notification through every external channel; returns count."""
    sent = 0
    for n in Notification.objects.filter(pk__in=ids, delivered_at__isnull=True).select_related("case"):
        if not Notification.objects.filter(pk=n.pk, delivered_at__isnull=True).update(delivered_at=timezone.now()):
            continue  # another worker took it
        for notifier in notifiers():
            try:
                notifier.send(n)
            except Exception:  # one channel failing must not stop the others
                log.exception("notifier %s failed for notification %s", notifier.channel, n.pk)
        sent += 1
    return sent
