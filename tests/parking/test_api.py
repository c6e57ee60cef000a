"""K1–K5 over HTTP: device endpoints with the lot token, staff API, portal payment, statistics,
guidance, find my car; cross-community isolation and query-count pins."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from linli.parking import decision
from linli.parking import services as svc
from linli.parking.models import ParkingChange, ParkingSession
from tests import factories as f

from .conftest import T0

H = dt.timedelta(hours=1)


class Camera:
    def __init__(self, raw: str) -> None:
        self.c = Client()
        self.h = {"Authorization": f"Bearer {raw}"}

    def post(self, path, data):
        return self.c.post(f"/api/v1/parking/device/{path}", data=data, content_type="application/json", headers=self.h)


def test_K2_device_entry_exit_with_lot_token(lot_site, api_as):
    s = lot_site
    cam = Camera(s.token)
    r = cam.post("entry", {"plate": "鲁A12345", "at": T0.isoformat()})
    assert r.status_code == 200 and r.json()["allowed"] is True and r.json()["reason"] == "visitor"
    r = cam.post("exit", {"plate": "鲁A12345", "at": (T0 + 2 * H).isoformat()})
    assert r.json() == {"allowed": False, "reason": "payment_due", "amount_due_fen": 700, "session_id": r.json()["session_id"]}
    assert Camera("pk_wrong").post("entry", {"plate": "鲁A12345"}).status_code == 401
    assert api_as(s.manager).post("parking/device/entry", {"plate": "鲁A12345"}).status_code == 401
    assert cam.post("entry", {"plate": ""}).status_code in (400, 422)


def test_K2_resident_pays_in_portal_then_drives_out(lot_site, api_as):
    # Frozen clock: the stay is exactly 2 h, and a slow run must not tick it into the next billing step.
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False):
        _resident_pays_then_drives_out(lot_site, api_as)


def _resident_pays_then_drives_out(lot_site, api_as):
    s = lot_site
    svc.vehicle_register(actor=s.resident, owner=s.owner, plate="鲁A12345")
    svc.plate_entry(lot=s.lot, plate="鲁A12345", at=dt.datetime.now(dt.UTC) - 2 * H)
    api = api_as(s.resident)
    q = api.get("parking/my/quote", {"lot_id": s.lot.pk, "plate": "鲁A12345"})
    assert q.status_code == 200 and q.json()["due_fen"] == 700
    bad = api.post(f"parking/my/pay?lot_id={s.lot.pk}&plate=鲁A12345", {"amount_fen": 1})
    assert bad.status_code == 422 and bad.json()["code"] == "parking.amount_mismatch"
    r = api.post(f"parking/my/pay?lot_id={s.lot.pk}&plate=鲁A12345", {"amount_fen": 700})
    assert r.status_code == 200 and r.json()["status"] == "paid"
    out = Camera(s.token).post("exit", {"plate": "鲁A12345"})
    assert out.json()["allowed"] is True and out.json()["reason"] == "paid"
    # someone else's car: not found
    svc.plate_entry(lot=s.lot, plate="鲁A99999", at=T0)
    assert api.get("parking/my/quote", {"lot_id": s.lot.pk, "plate": "鲁A99999"}).status_code == 404


def test_K3_stats_per_hour(lot_site, api_as):
    s = lot_site
    svc.plate_entry(lot=s.lot, plate="鲁A11111", at=T0 + dt.timedelta(minutes=5))
    svc.plate_entry(lot=s.lot, plate="鲁A22222", at=T0 + dt.timedelta(minutes=20))
    svc.plate_exit(lot=s.lot, plate="鲁A11111", at=T0 + dt.timedelta(minutes=10))
    svc.plate_entry(lot=s.lot, plate="鲁A33333", at=T0 + H + dt.timedelta(minutes=1))
    r = api_as(s.manager).get(f"parking/lots/{s.lot.pk}/stats", {"since": T0.isoformat(), "until": (T0 + 3 * H).isoformat()})
    assert r.status_code == 200
    rows = r.json()
    assert [(x["entries"], x["exits"], x["occupied"]) for x in rows] == [(2, 1, 1), (1, 0, 2), (0, 0, 2)]
    assert rows[0]["hour"].startswith("2026-03-02T09:00:00+08:00") and rows[0]["free"] == 9
    assert api_as(s.other).get(f"parking/lots/{s.lot.pk}/stats").status_code == 404


def test_K4_free_spaces_per_zone_in_real_time(lot_site, api_as):
    s = lot_site
    cam = Camera(s.token)
    svc.pass_create(actor=s.manager, lot=s.lot, person=s.owner, kind="fixed", plates_=["鲁A12345"], space=s.space,
                    valid_from=T0 - H, valid_until=T0 + 1000 * H)
    for p in ("鲁A12345", "鲁A22222", "鲁A33333"):
        cam.post("entry", {"plate": p, "at": T0.isoformat()})
    assert cam.post("locate", {"plate": "鲁A22222", "zone_code": "B1"}).status_code == 200
    assert cam.post("locate", {"plate": "鲁A44444", "zone_code": "B1"}).status_code == 404
    r = api_as(s.manager).get(f"parking/lots/{s.lot.pk}/guidance")
    body = r.json()
    assert body["free"] == 7 and body["capacity"] == 10
    assert body["zones"] == [{"zone_id": s.zone.pk, "code": "B1", "name": "负一层", "capacity": 3, "occupied": 1, "free": 2,
                              "fixed_total": 1, "fixed_occupied": 1}]
    cam.post("exit", {"plate": "鲁A22222", "at": (T0 + dt.timedelta(minutes=5)).isoformat()})
    dev = Client().get("/api/v1/parking/device/guidance", headers={"Authorization": f"Bearer {s.token}"})
    assert dev.json()["zones"][0]["free"] == 3


def test_K5_find_my_car_only_own_vehicles(lot_site, api_as):
    s = lot_site
    svc.vehicle_register(actor=s.resident, owner=s.owner, plate="鲁A12345")
    svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0)
    svc.plate_entry(lot=s.lot, plate="鲁A99999", at=T0)
    svc.locate(lot=decision.get_index().lots[s.lot.pk], plate="鲁A12345", zone_code="B1", space_number="B1-001")
    r = api_as(s.resident).get("parking/find-car", {"plate": "鲁a12345"})
    assert r.status_code == 200 and r.json()["zone_code"] == "B1" and r.json()["space_number"] == "B1-001"
    assert api_as(s.resident).get("parking/find-car", {"plate": "鲁A99999"}).status_code == 404
    assert api_as(s.manager).get("parking/find-car", {"plate": "鲁A99999"}).status_code == 200
    assert api_as(s.other).get("parking/find-car", {"plate": "鲁A99999"}).status_code == 404
    mine = api_as(s.resident).get("parking/my/vehicles").json()["items"]
    assert [v["plate"] for v in mine] == ["鲁A12345"]


def test_K1_staff_api_create_and_isolation(lot_site, api_as):
    s = lot_site
    api = api_as(s.manager)
    r = api.post("parking/lots", {"code": "P-A2", "name": "地面", "capacity": 20, "estate_id": s.est.pk, "rule_id": s.rule.pk})
    assert r.status_code == 201 and r.json()["token"].startswith("pk_")
    lot_id = r.json()["id"]
    assert api.post(f"parking/lots/{lot_id}/zones", {"code": "G", "name": "地面", "capacity": 20}).status_code == 201
    assert api.post(f"parking/lots/{lot_id}/spaces", {"number": "G-1", "kind": "owned"}).status_code == 422
    assert api.post("parking/vehicles", {"plate": "鲁AI2345", "owner_id": s.owner.pk}).json()["code"] == "parking.plate_invalid"
    v = api.post("parking/vehicles", {"plate": "鲁A12345", "owner_id": s.owner.pk})
    assert v.status_code == 201 and v.json()["energy"] == "fuel"
    p = api.post("parking/passes", {"lot_id": lot_id, "person_id": s.owner.pk, "kind": "monthly", "plates": ["鲁A12345"],
                                    "valid_from": T0.isoformat(), "valid_until": (T0 + 720 * H).isoformat()})
    assert p.status_code == 201
    fl = api.post("parking/flags", {"region_id": s.tree.community_a.pk, "plate": "鲁A66666", "kind": "stolen", "reason": "协查"})
    assert fl.status_code == 201
    svc.plate_entry(lot=s.lot, plate="鲁A12345", at=T0)
    other = api_as(s.other)
    for path in (f"parking/lots/{lot_id}", f"parking/lots/{lot_id}/zones", f"parking/lots/{lot_id}/guidance"):
        assert other.get(path).status_code == 404
    assert other.post(f"parking/passes/{p.json()['id']}/cancel").status_code == 404
    assert other.delete(f"parking/flags/{fl.json()['id']}").status_code == 404
    assert other.post("parking/flags", {"region_id": s.tree.community_a.pk, "plate": "鲁A66666", "kind": "stolen",
                                        "reason": "x"}).status_code == 404
    for path in ("parking/lots", "parking/vehicles", "parking/passes", "parking/flags", "parking/sessions", "parking/rules"):
        ids = {x["id"] for x in other.get(path).json()["items"]}
        mine = {x["id"] for x in api.get(path).json()["items"]}
        assert mine and not ids & mine, path
    assert api_as(f.account()).get("parking/lots").json()["items"] == []
    assert api.post("parking/sessions/999999/pay", {"amount_fen": 1}).status_code == 404


def test_K2_change_log_reaches_an_index_built_before_the_change(lot_site, settings):
    s = lot_site
    stale = decision.ParkingIndex.from_database()
    svc.flag_add(actor=s.manager, region=s.tree.community_a, plate="鲁A54321", kind="blocked", reason="欠费")
    assert stale.pre_entry(lot_id=s.lot.pk, plate="鲁A54321", at=T0).reason == "visitor"
    assert stale.apply_changes() and stale.version == ParkingChange.objects.latest("id").pk
    assert stale.pre_entry(lot_id=s.lot.pk, plate="鲁A54321", at=T0).reason == "plate_blocked"


@pytest.mark.parametrize("path", ["parking/lots", "parking/sessions", "parking/alarms", "parking/passes", "parking/vehicles",
                                  "parking/flags"])
def test_O2_parking_list_query_count_is_constant(lot_site, api_as, django_assert_max_num_queries, path):
    s = lot_site
    svc.flag_add(actor=s.manager, region=s.tree.community_a, plate="鲁A00001", kind="watch", reason="关注")
    for i in range(2, 8):
        plate = f"鲁A0000{i}"
        svc.vehicle_register(actor=s.manager, owner=s.owner, plate=plate)
        svc.pass_create(actor=s.manager, lot=s.lot, person=s.owner, kind="monthly", plates_=[plate], valid_from=T0 - H,
                        valid_until=T0 + 100 * H)
        svc.plate_entry(lot=s.lot, plate=plate, at=T0)
    svc.plate_entry(lot=s.lot, plate="鲁A00001", at=T0)
    api = api_as(s.manager)
    api.get(path)
    with django_assert_max_num_queries(6):
        r = api.get(path, {"limit": 50})
    assert r.status_code == 200 and r.json()["items"]
    assert ParkingSession.objects.count() == 7


def test_K2_booth_manual_entry_exit_audited_and_scoped(lot_site, api_as):
    from linli.audit.models import AuditEntry

    s = lot_site
    api = api_as(s.manager)
    r = api.post(f"parking/lots/{s.lot.pk}/manual/entry", {"plate": "鲁A12345", "at": T0.isoformat()})
    assert r.status_code == 200 and r.json()["reason"] == "visitor"
    r = api.post(f"parking/lots/{s.lot.pk}/manual/exit", {"plate": "鲁A12345", "at": (T0 + dt.timedelta(minutes=5)).isoformat()})
    assert r.json()["allowed"] is True and r.json()["reason"] == "free"
    assert AuditEntry.objects.filter(action__in=["parking.manual_entry", "parking.manual_exit"]).count() == 2
    assert api.post(f"parking/lots/{s.lot.pk}/manual/sideways", {"plate": "鲁A12345"}).status_code == 404
    assert api_as(s.other).post(f"parking/lots/{s.lot.pk}/manual/entry", {"plate": "鲁A12345"}).status_code == 404
    viewer = f.account(perms=["parking.view"], scope=s.tree.community_a)
    assert api_as(viewer).post(f"parking/lots/{s.lot.pk}/manual/entry", {"plate": "鲁A12345"}).status_code == 403
