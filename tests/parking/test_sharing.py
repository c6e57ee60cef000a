"""K6 shared private spaces: publish/withdraw windows, book inside them, the no-overlap database guard
(both databases, and a real race on PostgreSQL), payment and owner credit in the ledger, entry/exit
hooks, no-shows and overstays (time-machine), Asia/Shanghai windows crossing midnight, scope."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from unittest import mock

import pytest
import time_machine
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.db.models import QuerySet
from hypothesis import given
from hypothesis import strategies as st

from linli.core.errors import Conflict, Invalid, NotFound
from linli.parking import services as svc
from linli.parking import sharing
from linli.parking.models import (
    BookingStatus,
    LedgerEntry,
    ParkingSession,
    ShareBooking,
    ShareWindow,
    SharingTerms,
    WindowStatus,
)
from linli.parking.perms import ParkingPerm as P
from tests import factories as f

from .conftest import T0

H = dt.timedelta(hours=1)
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def share(lot_site):
    s = lot_site
    sharing.terms_set(actor=s.manager, lot=s.lot, platform_permille=100, grace_minutes=15, no_show_fen=500, overstay_fen_per_hour=600)
    window = sharing.window_publish(actor=s.resident, space=s.space, start_at=T0, end_at=T0 + 8 * H, price_fen=300, now=T0 - H)
    booker = f.person(s.tree.grid_a, name="李四")
    booker_acc = f.account(person=booker, kind="resident")
    neighbour = f.person(s.tree.grid_a, name="王五")
    neighbour_acc = f.account(person=neighbour, kind="resident")
    outsider = f.account(person=f.person(s.tree.grid_b, name="赵六"), kind="resident")
    return SimpleNamespace(**vars(s), window=window, booker=booker, booker_acc=booker_acc, neighbour=neighbour, neighbour_acc=neighbour_acc, outsider=outsider)


def _book(s, acc=None, start=T0 + H, end=T0 + 3 * H, plate="鲁A88888"):
    return sharing.booking_create(actor=acc or s.booker_acc, window=s.window, plate=plate, start_at=start, end_at=end, now=T0 - H)


def test_K6_publish_requires_own_private_space(share):
    with pytest.raises(NotFound):
        sharing.window_publish(actor=share.booker_acc, space=share.space, start_at=T0, end_at=T0 + H, price_fen=100, now=T0 - H)
    with pytest.raises(Conflict) as exc:
        sharing.window_publish(actor=share.resident, space=share.space, start_at=T0 + H, end_at=T0 + 9 * H, price_fen=100, now=T0 - H)
    assert exc.value.code == "sharing.window_overlap"
    with pytest.raises(Invalid):
        sharing.window_publish(actor=share.resident, space=share.space, start_at=T0 + 9 * H, end_at=T0 + 9 * H, price_fen=100, now=T0 - H)


def test_K6_booking_priced_per_hour_and_overlap_is_409(share):
    b = _book(share)
    assert (b.amount_fen, b.status, b.space_id) == (600, BookingStatus.BOOKED, share.space.pk)
    with pytest.raises(Conflict) as exc:
        _book(share, share.neighbour_acc, start=T0 + 2 * H, end=T0 + 4 * H, plate="鲁A77777")
    assert exc.value.code == "sharing.slot_taken" and exc.value.status == 409
    back_to_back = _book(share, share.neighbour_acc, start=T0 + 3 * H, end=T0 + 4 * H, plate="鲁A77777")
    assert back_to_back.amount_fen == 300
    with pytest.raises(Invalid):  # outside the window
        _book(share, share.neighbour_acc, start=T0 + 7 * H, end=T0 + 9 * H, plate="鲁A77777")


def test_K6_database_guard_rejects_overlap_without_the_service_check(share):
    b = _book(share)
    with pytest.raises(IntegrityError), transaction.atomic():
        ShareBooking.objects.create(window=share.window, space=share.space, lot=share.lot, booker=share.neighbour, plate="鲁A77777",
                                    start_at=b.start_at + dt.timedelta(minutes=30), end_at=b.end_at + H)
    # a cancelled booking no longer holds the space; reviving it into the overlap is refused too
    c = ShareBooking.objects.create(window=share.window, space=share.space, lot=share.lot, booker=share.neighbour, plate="鲁A77777",
                                    start_at=b.start_at, end_at=b.end_at, status=BookingStatus.CANCELLED)
    with pytest.raises(IntegrityError), transaction.atomic():
        ShareBooking.objects.filter(pk=c.pk).update(status=BookingStatus.BOOKED)


def test_K6_booking_lost_at_the_database_guard_is_the_same_409(share):
    """A booking committed after the service's pre-check ran is only seen by the database guard; its
    violation is the same 409 ``sharing.slot_taken`` (``overlap.book``), and nothing is written."""
    b = _book(share)
    real_exists = QuerySet.exists

    def precheck_misses_bookings(qs):
        return False if qs.model is ShareBooking else real_exists(qs)

    with mock.patch.object(QuerySet, "exists", precheck_misses_bookings), pytest.raises(Conflict) as exc:
        _book(share, share.neighbour_acc, start=T0 + 2 * H, end=T0 + 4 * H, plate="鲁A77777")
    assert exc.value.code == "sharing.slot_taken" and exc.value.status == 409
    assert list(ShareBooking.objects.filter(space=share.space).values_list("pk", flat=True)) == [b.pk]


def test_K6_booking_other_database_errors_are_not_a_slot_taken(share):
    """Only a lost race becomes a 409: any other failed INSERT (here a statement timeout) propagates."""
    timeout = OperationalError("canceling statement due to statement timeout")
    with mock.patch.object(type(ShareBooking.objects), "create", side_effect=timeout), pytest.raises(OperationalError):
        _book(share)


def test_K6_booking_scope_neighbourhood_only_and_own_space_refused(share):
    with pytest.raises(NotFound):
        _book(share, share.outsider)
    with pytest.raises(Invalid):
        _book(share, share.resident)


def test_K6_pay_credits_owner_minus_platform_share_and_refund_on_cancel(share):
    b = _book(share)
    with pytest.raises(Invalid):
        sharing.booking_pay(actor=share.booker_acc, booking=b, amount_fen=1)
    with pytest.raises(NotFound):
        sharing.booking_pay(actor=share.neighbour_acc, booking=b, amount_fen=600)
    sharing.booking_pay(actor=share.booker_acc, booking=b, amount_fen=600)
    rows = {(e.kind, e.person_id): e.amount_fen for e in LedgerEntry.objects.filter(booking=b)}
    assert rows == {("charge", share.booker.pk): -600, ("owner_credit", share.owner.pk): 540, ("platform_fee", None): 60}
    assert sharing.earnings(share.owner.pk)["balance_fen"] == 540
    with time_machine.travel(T0, tick=False):
        sharing.booking_cancel(actor=share.booker_acc, booking=b)
    assert sharing.earnings(share.owner.pk)["balance_fen"] == 0
    assert sum(LedgerEntry.objects.filter(booking=b).values_list("amount_fen", flat=True)) == 0


def test_K6_booked_plate_enters_to_its_space_free_and_overstay_is_charged(share):
    b = _book(share)
    d = svc.plate_entry(lot=share.lot.pk, plate="鲁A88888", at=b.start_at - dt.timedelta(minutes=10))
    s = ParkingSession.objects.get(pk=d.session_id)
    assert d.allowed and d.reason == "shared_booking" and s.space_id == share.space.pk
    b.refresh_from_db()
    assert b.status == BookingStatus.IN_USE
    nxt = _book(share, share.neighbour_acc, start=b.end_at, end=b.end_at + H, plate="鲁A77777")
    out = svc.plate_exit(lot=share.lot.pk, plate="鲁A88888", at=b.end_at + dt.timedelta(minutes=30))
    assert out.allowed and out.amount_due_fen == 0  # parking itself is covered by the booking
    b.refresh_from_db()
    nxt.refresh_from_db()
    assert (b.status, b.overstay_fen, b.due_fen) == (BookingStatus.COMPLETED, 300, 900)
    assert nxt.conflict is True


def test_K6_no_show_and_overstay_by_the_periodic_sweep(share):
    b = _book(share)
    late = _book(share, share.neighbour_acc, start=T0 + 4 * H, end=T0 + 5 * H, plate="鲁A77777")
    with time_machine.travel(b.start_at + dt.timedelta(minutes=14), tick=False):
        assert sharing.sweep()["no_show"] == 0
    with time_machine.travel(b.start_at + dt.timedelta(minutes=16), tick=False):
        assert sharing.sweep()["no_show"] == 1
        assert sharing.sweep()["no_show"] == 0  # idempotent
    b.refresh_from_db()
    assert (b.status, b.amount_fen) == (BookingStatus.NO_SHOW, 500)
    # the space is released: someone else may book the same time now
    again = _book(share, share.neighbour_acc, start=T0 + H, end=T0 + 2 * H, plate="鲁A66666")
    svc.plate_entry(lot=share.lot.pk, plate="鲁A66666", at=again.start_at)
    with time_machine.travel(again.end_at + dt.timedelta(minutes=20), tick=False):
        out = sharing.sweep()
    with time_machine.travel(again.end_at + dt.timedelta(minutes=30), tick=False):
        assert sharing.sweep()["overstay"] == 0
    assert out["overstay"] == 1
    again.refresh_from_db()
    late.refresh_from_db()
    assert again.overstaying and not late.conflict  # the next booking starts hours later


def test_K6_window_across_midnight_in_shanghai_books_by_local_time(lot_site):
    s = lot_site
    start = dt.datetime(2026, 3, 2, 22, 0, tzinfo=CST)  # 22:00 local … 07:00 the next local day
    w = sharing.window_publish(actor=s.resident, space=s.space, start_at=start, end_at=start + 9 * H, price_fen=2000, price_mode="flat",
                               now=start - H)
    assert w.start_at == dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
    acc = f.account(person=f.person(s.tree.grid_a, name="孙七"), kind="resident")
    b = sharing.booking_create(actor=acc, window=w, plate="鲁A55555", start_at=start + 2 * H, end_at=start + 8 * H, now=start - H)
    assert b.amount_fen == 2000 and b.end_at.astimezone(CST).hour == 6
    found = sharing.open_windows(actor=acc, start_at=start, end_at=start + H)
    assert [x.pk for x in found] == [w.pk]
    assert sharing.open_windows(actor=acc, start_at=start + 3 * H, end_at=start + 4 * H) == []  # booked then


def test_K6_withdraw_by_owner_or_manager_other_scope_404(share):
    with pytest.raises(NotFound):
        sharing.window_withdraw(actor=share.other, window=share.window)
    with pytest.raises(NotFound):
        sharing.window_withdraw(actor=share.booker_acc, window=share.window)
    sharing.window_withdraw(actor=share.manager, window=share.window)
    share.window.refresh_from_db()
    assert share.window.status == WindowStatus.WITHDRAWN
    with pytest.raises(Conflict):
        _book(share)


def test_K6_staff_lists_scoped(share):
    _book(share)
    assert sharing.booking_list(actor=share.manager).count() == 1
    assert sharing.booking_list(actor=share.other).count() == 0
    viewer = f.account(perms=[P.VIEW], scope=share.tree.community_a)
    assert sharing.settlement(actor=viewer) == []


@pytest.mark.django_db(transaction=True)
def test_K6_two_bookings_at_once_race_only_one_wins(settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    from linli.places import spatial

    spatial.invalidate()
    t = f.Tree()
    manager = f.account("sh_race", perms=list(P), scope=t.community_a)
    lot, _ = svc.lot_create(actor=manager, code="P-R", name="并发", capacity=10, estate=f.estate(t.community_a))
    owner = f.person(t.grid_a)
    space = svc.space_create(actor=manager, lot=lot, number="R-1", kind="owned", owner=owner)
    w = sharing.window_publish(actor=f.account(person=owner, kind="resident"), space=space, start_at=T0, end_at=T0 + 5 * H, price_fen=100,
                               now=T0 - H)
    accs = [f.account(person=f.person(t.grid_a), kind="resident") for _ in range(2)]
    barrier = threading.Barrier(2)
    wins, codes = [], []
    # Both pass the friendly pre-check first (it runs before the barrier releases the inserts), so only
    # the database guard can stop the second.
    real_exists = QuerySet.exists

    def exists_then_wait(qs):
        r = real_exists(qs)
        if qs.model is ShareBooking:
            barrier.wait(timeout=10)
        return r

    def worker(acc, plate):
        try:
            wins.append(sharing.booking_create(actor=acc, window=w, plate=plate, start_at=T0 + H, end_at=T0 + 2 * H, now=T0 - H).pk)
        except Conflict as exc:
            codes.append(exc.code)
        finally:
            connections.close_all()

    with mock.patch.object(QuerySet, "exists", exists_then_wait):
        threads = [threading.Thread(target=worker, args=(a, p)) for a, p in zip(accs, ["鲁A11111", "鲁A22222"], strict=True)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
    assert len(wins) == 1 and codes == ["sharing.slot_taken"]
    assert ShareBooking.objects.filter(space=space, status="booked").count() == 1


@given(st.integers(15, 31 * 24 * 60), st.integers(0, 600), st.integers(0, 100_000), st.sampled_from(["hourly", "flat"]))
def test_K6_price_and_overstay_fee_never_negative_and_monotonic(minutes, more, price, mode):
    w = ShareWindow(price_mode=mode, price_fen=price)
    short = sharing.price_for(w, T0, T0 + dt.timedelta(minutes=minutes))
    longer = sharing.price_for(w, T0, T0 + dt.timedelta(minutes=minutes + more))
    assert 0 <= short <= longer
    if mode == "flat":
        assert short == longer == price
    terms = SharingTerms(grace_minutes=15, overstay_fen_per_hour=price)
    a = sharing.overstay_fee(terms, T0, T0 + dt.timedelta(minutes=minutes))
    b = sharing.overstay_fee(terms, T0, T0 + dt.timedelta(minutes=minutes + more))
    assert 0 <= a <= b
    assert sharing.overstay_fee(terms, T0, T0 + dt.timedelta(minutes=15)) == 0


def test_K6_deadlock_between_two_inserts_counts_as_lost_race():
    from django.db import IntegrityError, OperationalError

    from linli.parking.overlap import lost_race

    class Deadlock(Exception):
        sqlstate = "40P01"

    class Timeout(Exception):
        sqlstate = "57014"

    lost = OperationalError("deadlock detected")
    lost.__cause__ = Deadlock()
    other = OperationalError("canceling statement due to statement timeout")
    other.__cause__ = Timeout()
    assert lost_race(IntegrityError("guard")) and lost_race(lost) and not lost_race(other)
