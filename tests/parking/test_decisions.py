"""K2/K3: entry/exit decisions — flags, passes, 一卡多车, visitors billed, pay before leaving, grace."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from linli.audit.models import AuditEntry
from linli.parking import services as svc
from linli.parking.models import ParkingAlarm, ParkingSession
from tests import factories as f

from .conftest import T0

H = dt.timedelta(hours=1)


def _pass(s, plates, **kw):
    return svc.pass_create(actor=s.manager, lot=s.lot, person=s.owner, kind=kw.pop("kind", "monthly"), plates_=plates,
                           valid_from=T0 - dt.timedelta(days=1), valid_until=T0 + dt.timedelta(days=30), **kw)


def test_K2_visitor_enters_is_billed_and_leaves_after_paying_within_grace(lot_site):
    s = lot_site
    d = svc.plate_entry(lot=s.lot, plate="鲁a·12345", at=T0)
    assert d.allowed and d.reason == "visitor" and d.session_id
    again = svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0 + dt.timedelta(seconds=2))
    assert again.allowed and again.reason == "already_inside" and again.session_id == d.session_id
    out = svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + 2 * H)
    assert not out.allowed and out.reason == "payment_due" and out.amount_due_fen == 700
    sess = ParkingSession.objects.get(pk=d.session_id)
    svc.pay(actor=s.manager, session=sess, amount_fen=700, at=T0 + 2 * H)
    out = svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + 2 * H + dt.timedelta(minutes=10))
    assert out.allowed and out.reason == "paid"
    sess.refresh_from_db()
    assert sess.status == "exited" and sess.amount_fen == 700 and sess.paid_fen == 700


def test_K2_paid_but_grace_exceeded_pays_the_difference(lot_site):
    s = lot_site
    d = svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0)
    svc.pay(actor=s.manager, session=ParkingSession.objects.get(pk=d.session_id), amount_fen=500, at=T0 + dt.timedelta(minutes=50))
    out = svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + dt.timedelta(minutes=50) + 2 * H)
    assert not out.allowed and out.amount_due_fen == 900 - 500


def test_K2_free_stay_and_no_session(lot_site):
    s = lot_site
    svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0)
    assert svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + dt.timedelta(minutes=10)).reason == "free"
    assert svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + H).reason == "no_session"
    assert svc.plate_entry(lot=s.lot, plate="鲁I1234", at=T0).reason == "plate_invalid"


@pytest.mark.parametrize("kind,allowed", [("stolen", False), ("blocked", False), ("watch", True)])
def test_K2_flagged_plates_denied_or_watched_with_alarm_and_audit(lot_site, kind, allowed):
    s = lot_site
    svc.flag_add(actor=s.manager, region=s.tree.community_a, plate="鲁A54321", kind=kind, reason="公安协查")
    d = svc.plate_entry(lot=s.lot, plate="鲁A54321", at=T0)
    assert d.allowed is allowed and d.reason == ("visitor" if allowed else f"plate_{kind}")
    alarm = ParkingAlarm.objects.get(plate="鲁A54321")
    assert alarm.kind == "flagged_plate" and alarm.allowed is allowed
    assert AuditEntry.objects.filter(action="parking.alarm_flagged_plate").exists()
    # a flag elsewhere does not apply; lifting it takes effect on the next decision
    assert svc.plate_entry(lot=s.lot_b, plate="鲁A54321", at=T0).allowed
    svc.flag_remove(actor=s.manager, flag=alarm.flag)
    svc.plate_exit(lot=s.lot, plate="鲁A54321", at=T0 + dt.timedelta(minutes=1))
    assert svc.plate_entry(lot=s.lot, plate="鲁A54321", at=T0 + H).allowed


def test_K2_pass_holder_enters_and_leaves_free_fixed_space_located(lot_site):
    s = lot_site
    _pass(s, ["鲁A12345"], kind="fixed", space=s.space)
    d = svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0)
    assert d.reason == "pass"
    sess = ParkingSession.objects.get(pk=d.session_id)
    assert sess.kind == "pass" and sess.space_id == s.space.pk and sess.zone_id == s.zone.pk
    out = svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + 30 * H)
    assert out.allowed and out.reason == "pass" and out.amount_due_fen == 0


def test_K2_pass_outside_validity_or_cancelled_is_visitor(lot_site):
    s = lot_site
    pp = _pass(s, ["鲁A12345"])
    assert svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0 + dt.timedelta(days=40)).reason == "visitor"
    svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + dt.timedelta(days=40, minutes=5))
    svc.pass_cancel(actor=s.manager, parking_pass=pp)
    assert svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0).reason == "visitor"


def test_K3_pass_overuse_charged_as_visitor_with_alarm(lot_site):
    s = lot_site
    pp = _pass(s, ["鲁A12345", "鲁A23456"])
    assert svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0).reason == "pass"
    d = svc.plate_entry(lot=s.lot, plate="鲁A23456", at=T0 + H)
    assert d.allowed and d.reason == "pass_overuse_visitor"
    assert ParkingSession.objects.get(pk=d.session_id).kind == "visitor"
    alarm = ParkingAlarm.objects.get(kind="pass_overuse")
    assert alarm.parking_pass_id == pp.pk and alarm.allowed
    assert svc.plate_exit(lot=s.lot, plate="鲁A23456", at=T0 + 3 * H).amount_due_fen == 700


def test_K3_pass_overuse_denied_when_configured_and_max_inside_respected(lot_site):
    s = lot_site
    svc.lot_update(actor=s.manager, lot=s.lot, overuse_policy="deny")
    _pass(s, ["鲁A12345", "鲁A23456", "鲁A34567"], max_inside=2)
    assert svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0).reason == "pass"
    assert svc.plate_entry(lot=s.lot, plate="鲁A23456", at=T0).reason == "pass"
    d = svc.plate_entry(lot=s.lot, plate="鲁A34567", at=T0)
    assert not d.allowed and d.reason == "pass_overuse" and ParkingAlarm.objects.filter(kind="pass_overuse", allowed=False).count() == 1
    svc.plate_exit(lot=s.lot, plate="鲁A12345", at=T0 + H)
    assert svc.plate_entry(lot=s.lot, plate="鲁A34567", at=T0 + H).reason == "pass"


def test_K2_one_open_session_per_lot_and_plate_is_a_database_constraint(lot_site):
    s = lot_site
    svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0)
    with pytest.raises(IntegrityError), transaction.atomic():
        ParkingSession.objects.create(lot=s.lot, region=s.lot.region, plate="鲁A12345", kind="visitor", entry_at=T0)


def test_K2_visitor_paid_by_host(lot_site):
    from linli.access.models import VisitorInvite

    s = lot_site
    svc.lot_update(actor=s.manager, lot=s.lot, rule=svc.rule_create(actor=s.manager, region=s.tree.community_a, name="访客记账",
                                                                    visitor_paid_by_host=True))
    h = f.house(s.tree.grid_a, est=s.est)
    VisitorInvite.objects.create(host_person=s.owner, house=h, region=s.tree.grid_a, visitor_name="李四", plate="鲁A77777",
                                 valid_from=T0 - H, valid_until=T0 + 5 * H, status="confirmed")
    d = svc.plate_entry(lot=s.lot, plate="鲁A77777", at=T0)
    assert d.reason == "visitor_host_pays"
    out = svc.plate_exit(lot=s.lot, plate="鲁A77777", at=T0 + 2 * H)
    assert out.allowed and out.reason == "host_billed" and out.amount_due_fen == 700
    assert ParkingSession.objects.get(pk=d.session_id).host_person_id == s.owner.pk


def test_K1_constraints_and_validation(lot_site):
    from linli.core.errors import Conflict, Invalid

    s = lot_site
    with pytest.raises(Conflict):
        svc.space_create(actor=s.manager, lot=s.lot, number="B1-001")
    with pytest.raises(Invalid):
        svc.space_create(actor=s.manager, lot=s.lot, number="B1-002", kind="rented")
    with pytest.raises(Invalid):
        svc.vehicle_register(actor=s.manager, owner=s.owner, plate="鲁AO1234")
    v = svc.vehicle_register(actor=s.resident, owner=s.owner, plate="沪ad 12345")
    assert v.plate == "沪AD12345" and v.energy == "electric"
    with pytest.raises(Conflict):
        svc.vehicle_register(actor=s.manager, owner=s.owner, plate="沪AD12345")
    with pytest.raises(Invalid):
        _pass(s, ["鲁A12345"], kind="fixed")
