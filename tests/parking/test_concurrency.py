"""Races at the barrier (K2 K3): two cars of one pass arriving together — only one enters as the pass
holder; two camera reads of one car together — one open session. Real concurrent transactions:
PostgreSQL only (SQLite serialises writers, which the single-process tests already cover)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from linli.parking import decision
from linli.parking import services as svc
from linli.parking.models import ParkingAlarm, ParkingSession
from linli.parking.perms import ParkingPerm as P
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def _race(fn, args: list) -> list:
    barrier = threading.Barrier(len(args))
    results, errors = [], []

    def worker(a) -> None:
        try:
            barrier.wait()
            results.append(fn(*a))
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(a,)) for a in args]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    return results


def test_K3_two_cars_of_one_pass_at_once_and_double_camera_read(settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    from linli.places import spatial

    settings.LINLI_PARKING_CHECK_MS = 0
    spatial.invalidate()
    decision.invalidate()
    t = f.Tree()
    manager = f.account("pk_conc", perms=list(P), scope=t.community_a)
    lot, _ = svc.lot_create(actor=manager, code="P-C", name="并发", capacity=10, estate=f.estate(t.community_a))
    owner = f.person(t.grid_a)
    svc.pass_create(actor=manager, lot=lot, person=owner, kind="monthly", plates_=["鲁A12345", "鲁A23456"], valid_from=T0 - dt.timedelta(days=1),
                    valid_until=T0 + dt.timedelta(days=30))
    decision.get_index()
    reasons = sorted(d.reason for d in _race(lambda p: svc.plate_entry(lot=lot.pk, plate=p, at=T0), [("鲁A12345",), ("鲁A23456",)]))
    assert reasons == ["pass", "pass_overuse_visitor"]
    assert ParkingAlarm.objects.filter(kind="pass_overuse").count() == 1
    ds = _race(lambda p: svc.plate_entry(lot=lot.pk, plate=p, at=T0), [("鲁A77777",), ("鲁A77777",)])
    assert all(d.allowed for d in ds) and len({d.session_id for d in ds}) == 1
    assert ParkingSession.objects.filter(plate="鲁A77777", exit_at__isnull=True).count() == 1
    decision.invalidate()
