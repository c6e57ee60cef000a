"""Two sweeps at the same moment (two workers, or a restart while one still runs) escalate and
notify each case once (C3). Real concurrent transactions: PostgreSQL only (SQLite serialises
writers, which the single-process tests already cover)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection, connections

from linli.cases.models import Case, CaseEvent, Category, Notification
from linli.cases.services import case_report
from linli.cases.sla import sweep
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_C3_concurrent_sweeps_escalate_once():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    from linli.places import spatial

    spatial.invalidate()
    t = f.Tree()
    cat, _ = Category.objects.get_or_create(code="test-urgent", defaults={"name": "测试紧急", "time_limit_hours": 2,
                                                                          "working_hours": False, "is_urgent": True})
    sup = f.account("sup_concurrent", perms=["case.view", "case.supervise"], scope=t.street)
    reporter = f.account("intake_concurrent", perms=["case.view", "case.intake"], scope=t.city)
    start = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        cases = [case_report(actor=reporter, channel="hotline", category=cat, title=f"并发{i}", description="",
                             lat=36.655, lng=117.005) for i in range(30)]
    later = start + dt.timedelta(hours=3)
    barrier = threading.Barrier(3)
    results: list[dict] = []
    errors: list[BaseException] = []

    def worker(offset_us: int) -> None:
        try:
            barrier.wait()
            results.append(sweep(now=later + dt.timedelta(microseconds=offset_us), batch=7))
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    assert sum(r["level1"] for r in results) == len(cases)
    assert Case.objects.filter(escalation_level=1).count() == len(cases)
    assert CaseEvent.objects.filter(kind="escalated").count() == len(cases)
    assert Notification.objects.filter(recipient=sup, kind="escalated").count() == len(cases)
    for c in cases:
        seqs = list(CaseEvent.objects.filter(case=c).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))
