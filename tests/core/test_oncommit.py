"""enqueue_batched: one task per committing transaction with every item, nothing on rollback (D4/C1:
an ingest batch's alarms become cases through one task, not one per alarm)."""

from __future__ import annotations

import pytest
from django.db import transaction

from linli.core.oncommit import enqueue_batched


class FakeTask:
    name = "tests.fake"

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def enqueue(self, items: list[int]) -> None:
        self.calls.append(items)


@pytest.mark.django_db(transaction=True)
def test_C1_D4_one_enqueue_per_committed_transaction_with_all_items():
    t = FakeTask()
    with transaction.atomic():
        for i in (1, 2, 2, 3):
            enqueue_batched(t, i)
        assert t.calls == []  # nothing before the commit
    assert t.calls == [[1, 2, 3]]  # once, duplicates dropped
    with transaction.atomic():
        enqueue_batched(t, 4)
    assert t.calls == [[1, 2, 3], [4]]  # the next transaction starts a new batch


@pytest.mark.django_db(transaction=True)
def test_C1_D4_rolled_back_transaction_enqueues_nothing_and_outside_a_transaction_at_once():
    t = FakeTask()
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_batched(t, 1)
        raise RuntimeError
    with transaction.atomic():
        enqueue_batched(t, 2)
    assert t.calls == [[2]]  # the rolled-back item is gone with its transaction
    enqueue_batched(t, 3)
    assert t.calls == [[2], [3]]


@pytest.mark.django_db(transaction=True)
def test_C1_D4_batch_registered_in_a_rolled_back_savepoint_is_started_again():
    t = FakeTask()
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            enqueue_batched(t, 1)
            raise RuntimeError
        enqueue_batched(t, 2)
    assert t.calls == [[2]]
