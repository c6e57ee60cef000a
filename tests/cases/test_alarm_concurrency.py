"""Two workers filing the case of the same alarm at the same moment create one case (C1). Real
concurrent transactions: PostgreSQL only (SQLite serialises writers)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from linli.cases.models import AlarmCase, Case
from linli.cases.services import case_from_alarm
from linli.iot.models import Alarm, Rule
from tests import factories as f
from tests.iot.helpers import device

from .world import ensure_seed

pytestmark = pytest.mark.django_db(transaction=True)


def test_C1_concurrent_processing_of_one_alarm_files_one_case():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    from linli.places import spatial

    spatial.invalidate()
    ensure_seed()
    t = f.Tree()
    dev, _ = device(t.grid_a, "smoke_detector")
    now = timezone.now()
    alarm = Alarm.objects.create(device=dev, rule=Rule.objects.get(device_type=dev.device_type, code="smoke"), region=t.grid_a,
                                 severity="critical", started_at=now, last_at=now, message="烟雾报警")
    barrier = threading.Barrier(3)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(case_from_alarm(alarm_id=alarm.pk).pk)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    assert len(set(results)) == 1 and len(results) == 3
    assert Case.objects.filter(channel="iot").count() == 1
    assert AlarmCase.objects.get(alarm=alarm).case_id == results[0]
