"""K7 EV charging: the pure bill (hypothesis: never negative, monotonic in energy and in time, idle cap,
time-of-use split across Asia/Shanghai midnight), piles as iot devices, start/stop through D5
commands with a clear 409 when the pile is offline, slots that never overlap, payment, scope."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from unittest import mock

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from hypothesis import given
from hypothesis import strategies as st

from linli.core.errors import Conflict, NotFound
from linli.iot.models import CommandStatus, DeviceCommand
from linli.parking import charging as ch
from linli.parking import services as svc
from linli.parking.models import BookingStatus, ChargerBooking, ChargingStatus, LedgerEntry
from linli.parking.perms import ParkingPerm as P
from tests import factories as f
from tests.iot import helpers as iot

CST = dt.timezone(dt.timedelta(hours=8))
H = dt.timedelta(hours=1)
TOU = ch.Tariff(periods=((0, 30), (8 * 60, 100), (22 * 60, 30)), service_fen_per_hour=80, idle_fen_per_hour=600, idle_grace_s=900,
                idle_cap_fen=3000)
BASE = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)


# ---- the bill ------------------------------------------------------------------------------------------

def _session(increments: list[int], gaps: list[int]):
    t, wh, readings = BASE, 100_000, [(BASE, 100_000)]
    for inc, gap in zip(increments, gaps, strict=False):
        t += dt.timedelta(seconds=gap)
        wh += inc
        readings.append((t, wh))
    return readings, t


increments = st.lists(st.integers(0, 20_000), min_size=1, max_size=12)
gaps = st.lists(st.integers(0, 4 * 3600), min_size=12, max_size=12)


@given(increments, gaps, st.integers(0, 12), st.integers(0, 20_000))
def test_K7_bill_is_never_negative_and_monotonic_in_energy(incs, gs, which, extra):
    readings, stop = _session(incs, gs)
    base = ch.bill_session(TOU, readings, BASE, stop)
    more = list(incs)
    more[which % len(more)] += extra
    readings2, _ = _session(more, gs)
    bigger = ch.bill_session(TOU, readings2, BASE, stop)
    assert min(base.energy_fen, base.service_fen, base.idle_fen) >= 0
    assert base.energy_wh == sum(incs)
    assert bigger.energy_fen >= base.energy_fen and bigger.total_fen >= base.total_fen


@given(increments, gaps, st.integers(0, 48 * 3600), st.integers(0, 12 * 3600), st.integers(0, 24 * 3600))
def test_K7_time_charges_monotonic_in_stop_time_and_idle_capped(incs, gs, full_after, later, later2):
    readings, last = _session(incs, gs)
    full_at = BASE + dt.timedelta(seconds=full_after)
    a = ch.bill_session(TOU, readings, BASE, last + dt.timedelta(seconds=later), full_at)
    b = ch.bill_session(TOU, readings, BASE, last + dt.timedelta(seconds=later + later2), full_at)
    assert b.service_fen >= a.service_fen and b.idle_fen >= a.idle_fen
    assert a.energy_wh == b.energy_wh
    assert b.idle_fen <= TOU.idle_cap_fen


def test_K7_time_of_use_split_at_local_boundaries_across_midnight():
    # 21:00 → 23:00 Shanghai, 10 kWh drawn evenly: 5 kWh at 1.00 yuan, 5 kWh at 0.30 yuan
    start = dt.datetime(2026, 3, 2, 21, 0, tzinfo=CST)
    flat = ch.Tariff(periods=((0, 30), (8 * 60, 100), (22 * 60, 30)))
    b = ch.bill_session(flat, [(start, 0), (start + 2 * H, 10_000)], start, start + 2 * H)
    assert (b.energy_wh, b.energy_fen, b.service_fen, b.idle_fen) == (10_000, 650, 0, 0)
    # 23:00 → 09:00 next local day: 9 h at night price, 1 h at day price
    late = dt.datetime(2026, 3, 2, 23, 0, tzinfo=CST)
    b = ch.bill_session(flat, [(late, 0), (late + 10 * H, 10_000)], late, late + 10 * H)
    assert b.energy_fen == 9 * 30 + 100


def test_K7_service_and_idle_fees():
    start = BASE
    b = ch.bill_session(TOU, [(start, 0), (start + 2 * H, 0)], start, start + 2 * H, full_at=start + 30 * dt.timedelta(minutes=1))
    assert b.service_fen == 160 and b.idle_fen == 750  # idle from 0:45 to 2:00 = 75 min at 6 yuan/h
    meter_reset = ch.bill_session(TOU, [(start, 5000), (start + H, 100)], start, start + H)
    assert meter_reset.energy_wh == 0 and meter_reset.energy_fen == 0


# ---- piles, slots, sessions ----------------------------------------------------------------------------

@pytest.fixture
def pile(lot_site):
    s = lot_site
    tariff = ch.tariff_create(actor=s.manager, region=s.tree.community_a, name="峰谷电价",
                              periods=[{"from": "00:00", "fen_per_kwh": 30}, {"from": "08:00", "fen_per_kwh": 100}],
                              service_fen_per_hour=80, idle_fen_per_hour=600, idle_cap_fen=3000)
    bay = svc.space_create(actor=s.manager, lot=s.lot, number="EV-01", kind="public", zone=s.zone)
    dev, _ = iot.device(s.tree.grid_a, "ev_charger", serial="EVC-0001")
    charger = ch.charger_register(actor=s.manager, device=dev, space=bay, tariff=tariff, name="1号快充")
    driver = f.person(s.tree.grid_a, name="钱八")
    return SimpleNamespace(**vars(s), tariff=tariff, dev=dev, charger=charger, driver=driver,
                           driver_acc=f.account(person=driver, kind="resident"),
                           neighbour_acc=f.account(person=f.person(s.tree.grid_a, name="周九"), kind="resident"),
                           outsider=f.account(person=f.person(s.tree.grid_b, name="吴十"), kind="resident"))


def _report(dev, at: dt.datetime, **values):
    r = iot.send(dev, {"ts": int(at.timestamp() * 1000), "values": values})
    assert r.stored >= 1, r


def test_K7_start_offline_pile_is_409_then_start_stop_bill_and_pay(pile):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with pytest.raises(Conflict) as exc:
        ch.start(actor=pile.driver_acc, charger=pile.charger, now=now)
    assert exc.value.code == "charging.charger_offline" and exc.value.status == 409
    _report(pile.dev, now - dt.timedelta(minutes=1), energy_kwh=120.0, status="idle", power_kw=0)
    s = ch.start(actor=pile.driver_acc, charger=pile.charger, now=now)
    cmd = DeviceCommand.objects.get(pk=s.start_command_id)
    assert (cmd.method, cmd.params, cmd.created_by_id) == ("startCharging", {"session": s.pk}, pile.driver_acc.pk)
    with pytest.raises(Conflict) as exc:
        ch.start(actor=pile.neighbour_acc, charger=pile.charger, now=now)
    assert exc.value.code == "charging.charger_busy"
    with pytest.raises(NotFound):
        ch.stop(actor=pile.neighbour_acc, session=s, now=now + H)
    _report(pile.dev, now + dt.timedelta(minutes=30), energy_kwh=125.0, status="charging", power_kw=7)
    _report(pile.dev, now + dt.timedelta(minutes=50), energy_kwh=127.0, status="full", power_kw=0)
    with time_machine.travel(now + 2 * H, tick=False):
        _report(pile.dev, now + 2 * H, energy_kwh=127.0, status="full", power_kw=0)
        done = ch.stop(actor=pile.driver_acc, session=s, now=now + 2 * H)
    assert done.status == ChargingStatus.COMPLETED and done.energy_wh == 7000
    assert done.full_at == now + dt.timedelta(minutes=50)
    assert done.service_fen == 160 and done.idle_fen == 550  # idle from 1:05 to 2:00
    assert DeviceCommand.objects.get(pk=done.stop_command_id).method == "stopCharging"
    ch.pay(actor=pile.driver_acc, session=done, amount_fen=done.total_fen)
    assert sum(LedgerEntry.objects.filter(charging_session=done).values_list("amount_fen", flat=True)) == 0
    with pytest.raises(Conflict):
        ch.pay(actor=pile.driver_acc, session=done, amount_fen=1)


def test_K7_slot_lost_at_the_database_guard_is_the_same_409(pile):
    """A slot booked after the service's pre-check ran is only seen by the database guard; its
    violation is the same 409 ``charging.slot_taken`` (``overlap.book``), and nothing is written."""
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    b = ch.booking_create(actor=pile.driver_acc, charger=pile.charger, plate="鲁AD12345", start_at=now + H, end_at=now + 3 * H)
    real_exists = QuerySet.exists

    def precheck_misses_bookings(qs):
        return False if qs.model is ChargerBooking else real_exists(qs)

    with mock.patch.object(QuerySet, "exists", precheck_misses_bookings), pytest.raises(Conflict) as exc:
        ch.booking_create(actor=pile.neighbour_acc, charger=pile.charger, plate="鲁A77777", start_at=now + 2 * H, end_at=now + 4 * H)
    assert exc.value.code == "charging.slot_taken" and exc.value.status == 409
    assert list(ChargerBooking.objects.filter(charger=pile.charger).values_list("pk", flat=True)) == [b.pk]


def test_K7_slots_never_overlap_and_reserved_pile_refuses_others(pile):
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    b = ch.booking_create(actor=pile.driver_acc, charger=pile.charger, plate="鲁AD12345", start_at=now + H, end_at=now + 3 * H)
    with pytest.raises(Conflict) as exc:
        ch.booking_create(actor=pile.neighbour_acc, charger=pile.charger, plate="鲁A77777", start_at=now + 2 * H, end_at=now + 4 * H)
    assert exc.value.code == "charging.slot_taken"
    with pytest.raises(IntegrityError), transaction.atomic():
        ChargerBooking.objects.create(charger=pile.charger, lot=pile.lot, booker=pile.owner, plate="鲁A77777", start_at=now + 2 * H,
                                      end_at=now + 4 * H)
    with pytest.raises(NotFound):
        ch.booking_create(actor=pile.outsider, charger=pile.charger, plate="鲁A77777", start_at=now + 5 * H, end_at=now + 6 * H)
    _report(pile.dev, now, energy_kwh=1.0, status="idle")
    with time_machine.travel(now + H, tick=False):
        _report(pile.dev, now + H, energy_kwh=1.0, status="idle")
        with pytest.raises(Conflict) as exc:
            ch.start(actor=pile.neighbour_acc, charger=pile.charger, now=now + H)
        assert exc.value.code == "charging.charger_reserved"
        s = ch.start(actor=pile.driver_acc, charger=pile.charger, now=now + H)
    assert s.booking_id == b.pk
    b.refresh_from_db()
    assert b.status == BookingStatus.IN_USE


def test_K7_sweep_fails_a_charge_whose_start_command_timed_out_and_no_shows_slots(pile):
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    _report(pile.dev, now, energy_kwh=1.0, status="idle")
    s = ch.start(actor=pile.driver_acc, charger=pile.charger, now=now)
    slot = ch.booking_create(actor=pile.neighbour_acc, charger=pile.charger, plate="鲁A77777", start_at=now + H, end_at=now + 2 * H)
    DeviceCommand.objects.filter(pk=s.start_command_id).update(status=CommandStatus.TIMED_OUT)
    with time_machine.travel(now + H + dt.timedelta(minutes=20), tick=False):
        assert ch.sweep() == {"failed": 1, "no_show": 1}
        assert ch.sweep() == {"failed": 0, "no_show": 0}
    s.refresh_from_db()
    slot.refresh_from_db()
    assert s.status == ChargingStatus.FAILED and s.due_fen == 0 and slot.status == BookingStatus.NO_SHOW


def test_K7_staff_scope_and_register_rules(pile):
    assert ch.charger_list(actor=pile.manager).count() == 1
    assert ch.charger_list(actor=pile.other).count() == 0
    with pytest.raises(NotFound):
        ch.charger_get(actor=pile.other, charger_id=pile.charger.pk)
    smoke, _ = iot.device(pile.tree.grid_a, "smoke_detector")
    bay = svc.space_create(actor=pile.manager, lot=pile.lot, number="EV-02", kind="public")
    from linli.core.errors import Forbidden, Invalid

    with pytest.raises(Invalid):
        ch.charger_register(actor=pile.manager, device=smoke, space=bay, tariff=pile.tariff, name="x")
    viewer = f.account(perms=[P.VIEW], scope=pile.tree.community_a)
    with pytest.raises(Forbidden):
        ch.charger_register(actor=viewer, device=smoke, space=bay, tariff=pile.tariff, name="x")
