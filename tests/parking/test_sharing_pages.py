"""K6 K7 pages: the resident portal (share my space, find and book, my bookings, chargers, earnings)
and the console section (bookings and windows per lot, chargers, settlement) — render, act, scope,
query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from linli.parking import charging as ch
from linli.parking import services as svc
from linli.parking import sharing
from linli.parking.models import BookingStatus, ShareBooking, ShareWindow
from linli.parking.perms import ParkingPerm as P
from tests import factories as f
from tests.iot import helpers as iot

H = dt.timedelta(hours=1)


def as_(account) -> Client:
    c = Client()
    c.force_login(account)
    return c


def _local(t: dt.datetime) -> str:
    return f"{timezone.localtime(t):%Y-%m-%dT%H:%M}"


@pytest.fixture
def site(lot_site):
    s = lot_site
    s.start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + 2 * H
    s.booker = f.account(person=f.person(s.tree.grid_a, name="李四"), kind="resident")
    s.resident.kind = "resident"
    s.resident.save(update_fields=["kind"])
    tariff = ch.tariff_create(actor=s.manager, region=s.tree.community_a, name="峰谷", periods=[{"from": "00:00", "fen_per_kwh": 50}],
                              service_fen_per_hour=60)
    bay = svc.space_create(actor=s.manager, lot=s.lot, number="EV-01", kind="public")
    dev, _ = iot.device(s.tree.grid_a, "ev_charger", serial="EVC-PAGE-1")
    s.charger = ch.charger_register(actor=s.manager, device=dev, space=bay, tariff=tariff, name="1号桩")
    return s


def test_K6_portal_pages_render_and_home_tile(site):
    c = as_(site.booker)
    assert 'href="/portal/sharing/"' in c.get("/portal/").content.decode()
    for url in ("/portal/sharing/", "/portal/sharing/share/", "/portal/sharing/find/", "/portal/sharing/chargers/", "/portal/sharing/earnings/"):
        r = c.get(url)
        assert r.status_code == 200, url
    assert "1号桩" in c.get("/portal/sharing/chargers/").content.decode()
    assert as_(site.manager).get("/portal/sharing/").status_code == 302


def test_K6_portal_owner_publishes_neighbour_finds_books_pays(site):
    owner = as_(site.resident)
    r = owner.post("/portal/sharing/share/", {"space": site.space.pk, "start_at": _local(site.start), "end_at": _local(site.start + 10 * H),
                                              "price_mode": "hourly", "price_yuan": "4.50"})
    assert r.status_code == 302, r.content.decode()[:2000]
    w = ShareWindow.objects.get(space=site.space)
    assert w.price_fen == 450
    bad = owner.post("/portal/sharing/share/", {"space": site.space.pk, "start_at": _local(site.start), "end_at": _local(site.start + H),
                                                "price_mode": "hourly", "price_yuan": "1"})
    assert bad.status_code == 409 and "重叠" in bad.content.decode()
    c = as_(site.booker)
    q = {"start_at": _local(site.start + H), "end_at": _local(site.start + 3 * H)}
    page = c.get("/portal/sharing/find/", q).content.decode()
    assert "B1-001" in page and "¥9.00" in page
    r = c.post("/portal/sharing/find/", {**q, "window": w.pk, "plate": "鲁A88888"})
    assert r.status_code == 302
    b = ShareBooking.objects.get(window=w)
    taken = as_(f.account(person=f.person(site.tree.grid_a), kind="resident")).post("/portal/sharing/find/", {**q, "window": w.pk,
                                                                                                               "plate": "鲁A77777"})
    assert taken.status_code == 409 and "已被预约" in taken.content.decode()
    assert "B1-001" in c.get("/portal/sharing/").content.decode()
    assert c.post(f"/portal/sharing/bookings/{b.pk}/pay/").status_code == 302
    b.refresh_from_db()
    assert b.paid_fen == 900
    assert "¥9.00" in owner.get("/portal/sharing/earnings/").content.decode()
    # someone else's booking: 404
    assert owner.post(f"/portal/sharing/bookings/{b.pk}/cancel/").status_code == 404
    assert c.post(f"/portal/sharing/bookings/{b.pk}/cancel/").status_code == 302
    b.refresh_from_db()
    assert b.status == BookingStatus.CANCELLED
    assert owner.post(f"/portal/sharing/share/{w.pk}/withdraw/").status_code == 302
    assert c.post(f"/portal/sharing/share/{w.pk}/withdraw/").status_code == 404


def test_K7_portal_start_offline_shows_error_and_slot_booking(site):
    c = as_(site.booker)
    r = c.post(f"/portal/sharing/chargers/{site.charger.pk}/start/", follow=True)
    assert "离线" in r.content.decode()
    r = c.post("/portal/sharing/chargers/", {"charger": site.charger.pk, "plate": "鲁AD12345", "start_at": _local(site.start),
                                             "end_at": _local(site.start + H)})
    assert r.status_code == 302
    assert ch.my_bookings(site.booker).count() == 1


def test_K6_K7_console_pages_scope_and_queries(site, django_assert_max_num_queries):
    w = sharing.window_publish(actor=site.resident, space=site.space, start_at=site.start, end_at=site.start + 10 * H, price_fen=300)
    for i in range(4):
        acc = f.account(person=f.person(site.tree.grid_a), kind="resident")
        b = sharing.booking_create(actor=acc, window=w, plate=f"鲁A2000{i}", start_at=site.start + i * H, end_at=site.start + (i + 1) * H)
        sharing.booking_pay(actor=acc, booking=b, amount_fen=b.due_fen)
    c = as_(site.manager)
    with django_assert_max_num_queries(15):
        r = c.get("/console/sharing/")
    assert r.status_code == 200 and "鲁A20003" in r.content.decode()
    with django_assert_max_num_queries(15):
        r = c.get("/console/sharing/chargers/")
    assert r.status_code == 200 and "1号桩" in r.content.decode()
    with django_assert_max_num_queries(15):
        r = c.get("/console/sharing/settlement/")
    assert r.status_code == 200 and "¥12.00" in r.content.decode()
    other = as_(site.other)
    assert "鲁A20003" not in other.get("/console/sharing/").content.decode()
    assert other.get(f"/console/sharing/?lot={site.lot.pk}").status_code == 404
    nobody = as_(f.account(perms=[], scope=site.tree.community_a))
    assert nobody.get("/console/sharing/").status_code == 403
    viewer = as_(f.account(perms=[P.VIEW], scope=site.tree.community_a))
    assert viewer.get("/console/sharing/").status_code == 200
    assert viewer.get("/console/sharing/settlement/").status_code == 403


def test_K6_K7_portal_lists_have_fixed_query_counts(site, django_assert_max_num_queries):
    w = sharing.window_publish(actor=site.resident, space=site.space, start_at=site.start, end_at=site.start + 10 * H, price_fen=300)
    for i in range(5):
        sharing.booking_create(actor=site.booker, window=w, plate=f"鲁A3000{i}", start_at=site.start + i * H, end_at=site.start + (i + 1) * H)
    c = as_(site.booker)
    with django_assert_max_num_queries(12):
        assert c.get("/portal/sharing/").content.decode().count("鲁A3000") == 5
    with django_assert_max_num_queries(12):
        assert c.get("/portal/sharing/chargers/").status_code == 200
    owner = as_(site.resident)
    with django_assert_max_num_queries(12):
        assert "B1-001" in owner.get("/portal/sharing/share/").content.decode()
