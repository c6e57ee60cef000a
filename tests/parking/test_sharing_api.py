"""K6 K7 over HTTP: /api/v1/parking/sharing and /api/v1/parking/charging — resident flows, staff lists
with pinned query counts, 409 on overlap, 404 across scope, 403 without the permission."""

from __future__ import annotations

import datetime as dt

import pytest

from linli.parking import charging as ch
from linli.parking import services as svc
from linli.parking import sharing
from linli.parking.perms import ParkingPerm as P
from tests import factories as f
from tests.iot import helpers as iot

H = dt.timedelta(hours=1)


@pytest.fixture
def site(lot_site):
    s = lot_site
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    s.start = now + H
    s.booker = f.account(person=f.person(s.tree.grid_a, name="李四"), kind="resident")
    s.outsider = f.account(person=f.person(s.tree.grid_b, name="赵六"), kind="resident")
    return s


def test_K6_api_publish_search_book_conflict_pay(site, api_as):
    owner, booker = api_as(site.resident), api_as(site.booker)
    r = owner.post("parking/sharing/windows", {"space_id": site.space.pk, "start_at": site.start.isoformat(),
                                               "end_at": (site.start + 6 * H).isoformat(), "price_fen": 400})
    assert r.status_code == 201, r.json()
    wid = r.json()["id"]
    assert r.json()["space_number"] == "B1-001"
    assert booker.post("parking/sharing/windows", {"space_id": site.space.pk, "start_at": site.start.isoformat(),
                                                   "end_at": (site.start + H).isoformat(), "price_fen": 1}).status_code == 404
    found = booker.get("parking/sharing/windows/search", {"start_at": (site.start + H).isoformat(), "end_at": (site.start + 2 * H).isoformat()})
    assert [w["id"] for w in found.json()] == [wid]
    assert api_as(site.outsider).get("parking/sharing/windows/search", {"start_at": (site.start + H).isoformat(),
                                                                       "end_at": (site.start + 2 * H).isoformat()}).json() == []
    body = {"window_id": wid, "plate": "鲁A88888", "start_at": (site.start + H).isoformat(), "end_at": (site.start + 2 * H).isoformat()}
    b = booker.post("parking/sharing/bookings", body)
    assert b.status_code == 201 and b.json()["due_fen"] == 400
    again = booker.post("parking/sharing/bookings", {**body, "plate": "鲁A77777"})
    assert again.status_code == 409 and again.json()["code"] == "sharing.slot_taken"
    assert api_as(site.outsider).post("parking/sharing/bookings", body).status_code == 404
    bid = b.json()["id"]
    assert api_as(site.outsider).get(f"parking/sharing/bookings/{bid}").status_code == 404
    bad = booker.post(f"parking/sharing/bookings/{bid}/pay", {"amount_fen": 1})
    assert bad.status_code == 422 and bad.json()["code"] == "sharing.amount_mismatch"
    assert booker.post(f"parking/sharing/bookings/{bid}/pay", {"amount_fen": 400}).json()["paid_fen"] == 400
    assert owner.get("parking/sharing/my/earnings").json() == {"balance_fen": 400}
    assert [e["kind"] for e in owner.get("parking/sharing/my/ledger").json()["items"]] == ["owner_credit"]
    manager = api_as(site.manager)
    assert manager.get("parking/sharing/settlement").json()[0]["total_fen"] == 400
    assert api_as(site.other).get("parking/sharing/settlement").json() == []
    assert api_as(site.other).get(f"parking/sharing/bookings/{bid}").status_code == 404
    viewer = api_as(f.account(perms=[P.VIEW], scope=site.tree.community_a))
    assert viewer.put(f"parking/sharing/lots/{site.lot.pk}/terms", {"platform_permille": 100}).status_code == 403
    assert manager.put(f"parking/sharing/lots/{site.lot.pk}/terms", {"platform_permille": 100}).json()["platform_permille"] == 100


def test_K6_K7_staff_lists_are_paginated_with_fixed_queries(site, api_as, django_assert_max_num_queries):
    w = sharing.window_publish(actor=site.resident, space=site.space, start_at=site.start, end_at=site.start + 20 * H, price_fen=100)
    for i in range(6):
        acc = f.account(person=f.person(site.tree.grid_a), kind="resident")
        sharing.booking_create(actor=acc, window=w, plate=f"鲁A1000{i}", start_at=site.start + i * H, end_at=site.start + (i + 1) * H)
    tariff = ch.tariff_create(actor=site.manager, region=site.tree.community_a, name="平价", periods=[{"from": "00:00", "fen_per_kwh": 60}])
    for i in range(3):
        bay = svc.space_create(actor=site.manager, lot=site.lot, number=f"EV-{i}", kind="public")
        dev, _ = iot.device(site.tree.grid_a, "ev_charger", serial=f"EVC-API-{i}")
        ch.charger_register(actor=site.manager, device=dev, space=bay, tariff=tariff, name=f"{i}号桩")
    api = api_as(site.manager)
    with django_assert_max_num_queries(8):
        r = api.get("parking/sharing/bookings", {"lot_id": site.lot.pk, "limit": 5})
    assert r.status_code == 200 and len(r.json()["items"]) == 5 and r.json()["next_cursor"]
    with django_assert_max_num_queries(8):
        assert len(api.get("parking/sharing/windows").json()["items"]) == 1
    with django_assert_max_num_queries(10):
        r = api.get("parking/charging/chargers")
    assert r.status_code == 200 and {c["online"] for c in r.json()["items"]} == {False}
    with django_assert_max_num_queries(8):
        assert api.get("parking/charging/sessions").json()["items"] == []
    assert api_as(site.other).get("parking/charging/chargers").json()["items"] == []


def test_K7_api_start_offline_is_409_with_code(site, api_as):
    tariff = ch.tariff_create(actor=site.manager, region=site.tree.community_a, name="平价", periods=[{"from": "00:00", "fen_per_kwh": 60}])
    bay = svc.space_create(actor=site.manager, lot=site.lot, number="EV-9", kind="public")
    dev, _ = iot.device(site.tree.grid_a, "ev_charger", serial="EVC-API-9")
    c = ch.charger_register(actor=site.manager, device=dev, space=bay, tariff=tariff, name="9号桩")
    api = api_as(site.booker)
    assert [x["id"] for x in api.get("parking/charging/chargers/near").json()] == [c.pk]
    r = api.post(f"parking/charging/chargers/{c.pk}/start")
    assert r.status_code == 409 and r.json()["code"] == "charging.charger_offline"
    assert api_as(site.outsider).post(f"parking/charging/chargers/{c.pk}/start").status_code == 404
    bad = api_as(site.manager).post("parking/charging/tariffs", {"region_id": site.tree.community_a.pk, "name": "x",
                                                                 "periods": [{"from": "08:00", "fen_per_kwh": 1}]})
    assert bad.status_code == 422 and bad.json()["code"] == "charging.periods"
