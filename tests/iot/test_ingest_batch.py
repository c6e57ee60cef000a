"""The batch write of the ingest pipeline (D2/D3): readings already stored and readings repeated inside
one batch are stored once and evaluated once; rule states of many devices are written together, so a
batch costs the same number of queries whatever the number of devices in it."""

from __future__ import annotations

import json

from linli.iot.ingest import InMessage, ingest_batch
from linli.iot.models import Alarm, AlarmStatus, RuleState, Telemetry
from tests.iot.helpers import device

TS = 1_763_900_000_000


def msg(dev, ts: int, smoke: float) -> InMessage:
    return InMessage(dev.mqtt_username, "telemetry", json.dumps({"ts": ts, "values": {"smoke": smoke, "battery": 90}}))


def test_D2_repeats_inside_a_batch_and_known_readings_are_stored_and_evaluated_once(tree):
    d, _ = device(tree.grid_a)
    assert ingest_batch([msg(d, TS, 0.01)]).stored == 2
    r = ingest_batch([msg(d, TS, 0.01), msg(d, TS + 1000, 0.5), msg(d, TS + 1000, 0.5), msg(d, TS + 2000, 0.6)])
    assert (r.messages, r.stored, r.duplicates, r.rejected) == (4, 4, 4, 0)
    assert Telemetry.objects.filter(device=d).count() == 6
    assert r.alarms_raised == 1 and Alarm.objects.filter(device=d, rule__code="smoke").count() == 1
    assert Alarm.objects.get(device=d, rule__code="smoke").occurrences == 1  # the repeat was not evaluated again


def test_D3_rule_states_of_many_devices_in_one_batch_with_constant_queries(tree, django_assert_max_num_queries):
    devs = [device(tree.grid_a)[0] for _ in range(3)]
    ingest_batch([msg(d, TS, 0.01) for d in devs])  # device directory and rule book loaded
    with django_assert_max_num_queries(12):
        r = ingest_batch([msg(d, TS + 1000, 0.01) for d in devs])
    assert r.stored == 6 and r.alarms_raised == 0
    more = [device(tree.grid_a)[0] for _ in range(12)]
    ingest_batch([msg(d, TS, 0.01) for d in more])
    with django_assert_max_num_queries(12):
        r = ingest_batch([msg(d, TS + 1500, 0.01) for d in devs + more])
    assert r.stored == 30
    raised = ingest_batch([msg(d, TS + 2000, 0.5) for d in devs])
    assert raised.alarms_raised == 3 and RuleState.objects.filter(device__in=devs, active=True).count() == 3
    cleared = ingest_batch([msg(d, TS + 3000, 0.01) for d in devs])
    assert cleared.alarms_cleared == 3
    assert set(Alarm.objects.filter(device__in=devs).values_list("status", flat=True)) == {AlarmStatus.CLEARED}
    assert not RuleState.objects.filter(device__in=devs).exists()  # back at rest: states deleted in one statement


def test_D3_rule_book_version_read_at_most_every_interval_and_at_once_after_a_local_edit(tree, settings):
    """A worker asks whether the rules changed at most every LINLI_RULEBOOK_CHECK_S seconds (one query
    less per batch); a rule edited in this process applies to the very next batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from linli.iot import ingest, services
    from tests.iot.helpers import admin

    settings.LINLI_RULEBOOK_CHECK_S = 60
    ingest.reset_caches()
    before = ingest.rule_book()
    with CaptureQueriesContext(connection) as ctx:
        assert ingest.rule_book() is before
    assert len(ctx.captured_queries) == 0
    dev, _ = device(tree.grid_a, "gas_detector")
    rule = services.rule_create(actor=admin(), device=dev, code="very_low_gas", name="微量燃气",
                                conditions=[{"key": "gas_lel", "type": "threshold", "op": ">", "value": 1}], severity="minor")
    book = ingest.rule_book()
    assert book is not before and any(r.id == rule.pk for r in book.for_device(dev.pk, dev.device_type_id))


def test_D2_last_seen_is_not_rewritten_within_its_resolution(tree, django_capture_on_commit_callbacks):
    """A device seen again within LAST_SEEN_RESOLUTION costs no UPDATE of iot_device (most batches)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from linli.iot import ingest

    dev, _ = device(tree.grid_a)
    with django_capture_on_commit_callbacks(execute=True):
        ingest_batch([msg(dev, 1763900000000, 0.01)])
    dev.refresh_from_db()
    first = dev.last_seen_at
    assert first is not None
    with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks(execute=True):
        ingest_batch([msg(dev, 1763900001000, 0.01)])
    assert not [q for q in ctx.captured_queries if q["sql"].startswith("UPDATE") and "iot_device" in q["sql"]]
    ingest._touched[dev.pk] = first - ingest.LAST_SEEN_RESOLUTION * 2  # as if set long ago: asked again
    with CaptureQueriesContext(connection) as ctx:
        ingest_batch([msg(dev, 1763900002000, 0.01)])
    assert [q for q in ctx.captured_queries if q["sql"].startswith("UPDATE") and "iot_device" in q["sql"]]
