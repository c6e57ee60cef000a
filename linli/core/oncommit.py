"""Enqueue background work once per transaction, however many rows asked for it.

``enqueue_batched(task, item)`` collects ``item`` for ``task`` in the current transaction and, when the
transaction commits, enqueues ``task`` once with the list of items (``task.enqueue(items)``). An
ingest batch that raises and clears a dozen alarms thus writes one task row after its commit instead of
a dozen (each its own commit and disk flush, delaying the next batch). Nothing is enqueued when the
transaction rolls back. Outside a transaction the task is enqueued at once with ``[item]``.

A savepoint rolled back after items were added leaves those items in the list: tasks that receive
them must be idempotent and skip ids that do not exist (every Linli task is).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction


class _Batch:
    __slots__ = ("items", "task")

    def __init__(self, task: Any) -> None:
        self.task, self.items = task, []

    def flush(self) -> None:
        items, self.items = list(dict.fromkeys(self.items)), []
        if items:
            self.task.enqueue(items)


def enqueue_batched(task: Any, item: Any, *, using: str | None = None) -> None:
    conn = transaction.get_connection(using)
    if not conn.in_atomic_block:
        task.enqueue([item])
        return
    batches: dict[str, _Batch] = conn.__dict__.setdefault("_linli_oncommit_batches", {})
    batch = batches.get(task.name)
    if batch is None or not any(entry[1] == batch.flush for entry in conn.run_on_commit):
        batch = batches[task.name] = _Batch(task)  # first in this transaction (or the last one was flushed / rolled back)
        transaction.on_commit(batch.flush, using=using)
    batch.items.append(item)
