"""Admin (unfold) for places: pages render; saves go through the services (validated, audited)."""

import json

import pytest

from linli.audit.models import AuditEntry
from linli.places.models import Facility, Region
from tests import factories as f


@pytest.fixture
def admin_client_(client, db):
    client.force_login(f.account(superuser=True))
    return client


@pytest.mark.parametrize("model", ["region", "estate", "building", "unit", "house", "facility", "boundaryversion"])
def test_P1_admin_changelists_render(admin_client_, tree, model):
    f.house(tree.grid_a)
    assert admin_client_.get(f"/admin/places/{model}/").status_code == 200


def test_P2_admin_house_change_uses_service(admin_client_, tree):
    h = f.house(tree.grid_a)
    url = f"/admin/places/house/{h.pk}/change/"
    assert admin_client_.get(url).status_code == 200
    form = {
        "building": h.building_id, "unit": h.unit_id, "number": h.number, "floor": 1, "address": h.address,
        "property_type": "commodity", "structure": "frame", "layout": "2室1厅", "floor_area_m2": "70", "exclusive_area_m2": "90",
        "use": "rented", "photos": "[]",
    }
    r = admin_client_.post(url, form)
    assert r.status_code == 200 and "house.exclusive_area_too_large" in r.content.decode()
    form["exclusive_area_m2"] = "60"
    r = admin_client_.post(url, form)
    assert r.status_code == 302, r.content.decode()[:2000]
    h.refresh_from_db()
    assert h.layout == "2室1厅" and h.use == "rented"
    assert AuditEntry.objects.filter(action="house.update", object_id=str(h.pk)).count() == 1


def test_P3_admin_facility_add_and_region_rename(admin_client_, tree):
    r = admin_client_.post("/admin/places/facility/add/", {
        "region": tree.community_a.pk, "kind": "library", "name": "社区书屋", "capacity": 20, "serves": '["all"]',
        "address": "", "opening_hours": "", "phone": "",
    })
    assert r.status_code == 302, r.content.decode()[:3000]
    assert Facility.objects.get().name == "社区书屋" and AuditEntry.objects.filter(action="facility.create").exists()
    r = admin_client_.post(f"/admin/places/region/{tree.grid_a.pk}/change/", {
        "name": "甲一网格（新）", "population_hint": "", "is_active": "on", "boundary": json.dumps(tree.grid_a.boundary),
    })
    assert r.status_code == 302, r.content.decode()[:3000]
    grid = Region.objects.get(pk=tree.grid_a.pk)
    assert grid.name == "甲一网格（新）" and grid.boundary == tree.grid_a.boundary
    assert AuditEntry.objects.filter(action="region.update").count() == 1
    assert not AuditEntry.objects.filter(action="region.set_boundary").exists()
