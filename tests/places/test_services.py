"""P1–P3 services: validation, permission/scope checks, audit."""

from decimal import Decimal

import pytest

from linli.audit.models import AuditEntry
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.orgs.perms import Perm
from linli.places import services as svc
from linli.places.models import BoundaryVersion, House, Level, Region
from tests import factories as f
from tests.factories import square

EDIT = [Perm.PLACE_VIEW, Perm.PLACE_EDIT, Perm.BOUNDARY_EDIT]


@pytest.fixture
def editor(tree):
    return f.account(perms=EDIT, scope=tree.street)


def test_P1_region_create_grid_computes_centroid_area_and_audits(tree, editor):
    g = svc.region_create(actor=editor, parent=tree.community_a, level=Level.GRID, code="370102001001002", name="甲二网格",
                          boundary=square(117.0, 36.655, 0.005))
    assert Region.objects.get_parent(g).pk == tree.community_a.pk and g.depth == tree.community_a.depth + 1
    assert g.centroid_lng == pytest.approx(117.0025) and g.centroid_lat == pytest.approx(36.6575)
    # 0.005° square at 36.66°N ≈ 0.447 km × 0.553 km
    assert g.area_km2 == pytest.approx(0.2468, rel=0.01)
    entry = AuditEntry.objects.get(action="region.create")
    assert entry.actor_id == editor.pk and entry.object_id == str(g.pk) and entry.after["code"] == "370102001001002"
    assert BoundaryVersion.objects.get().version >= 1


@pytest.mark.parametrize(
    ("level", "code", "error"),
    [
        (Level.COMMUNITY, "370102001001002", "region.wrong_level"),
        (Level.GRID, "37010200100100", "region.bad_code"),
        (Level.GRID, "37010200100A002", "region.bad_code"),
        (Level.GRID, "370102001002009", "region.code_not_under_parent"),
        ("planet", "370102001001002", "region.wrong_level"),
    ],
)
def test_P1_region_create_rejects_bad_level_and_code(tree, editor, level, code, error):
    with pytest.raises(Invalid) as exc:
        svc.region_create(actor=editor, parent=tree.community_a, level=level, code=code, name="x")
    assert exc.value.code == error and exc.value.status == 422


def test_P1_region_code_must_be_unique(tree, editor):
    with pytest.raises(Conflict) as exc:
        svc.region_create(actor=editor, parent=tree.community_a, level=Level.GRID, code=tree.grid_a.code, name="重复")
    assert exc.value.code == "region.code_taken"


def test_P1_district_code_shares_city_prefix(tree):
    admin = f.account(superuser=True)
    d = svc.region_create(actor=admin, parent=tree.city, level=Level.DISTRICT, code="370103", name="市中区")
    assert d.level == Level.DISTRICT
    with pytest.raises(Invalid):
        svc.region_create(actor=admin, parent=tree.city, level=Level.DISTRICT, code="370200", name="青岛")


@pytest.mark.parametrize(
    ("boundary", "error"),
    [
        ({"type": "Point", "coordinates": [117, 36]}, "boundary.bad_type"),
        ({"type": "Polygon", "coordinates": [[[117, 36], [117.1, 36], [117.1, 36.1], [117, 36.1]]]}, "boundary.ring_not_closed"),
        ({"type": "Polygon", "coordinates": [[[117, 36], [117.1, 36], [117, 36]]]}, "boundary.ring_too_short"),
        ({"type": "Polygon", "coordinates": [[[217, 36], [217.1, 36], [217.1, 36.1], [217, 36]]]}, "boundary.out_of_range"),
        # bow-tie: self-intersecting
        ({"type": "Polygon", "coordinates": [[[117, 36], [117.1, 36.1], [117.1, 36], [117, 36.1], [117, 36]]]}, "boundary.invalid_geometry"),
        ({"type": "Polygon", "coordinates": [[["a", 36], [117.1, 36], [117.1, 36.1], ["a", 36]]]}, "boundary.bad_position"),
    ],
)
def test_P1_invalid_boundaries_rejected(tree, editor, boundary, error):
    with pytest.raises(Invalid) as exc:
        svc.region_set_boundary(actor=editor, region=tree.grid_a, boundary=boundary)
    assert exc.value.code == error


def test_P1_multipolygon_boundary_accepted(tree, editor):
    mp = {"type": "MultiPolygon", "coordinates": [square(117.0, 36.65, 0.004)["coordinates"], square(117.006, 36.65, 0.004)["coordinates"]]}
    r = svc.region_set_boundary(actor=editor, region=tree.grid_a, boundary=mp)
    assert r.boundary["type"] == "MultiPolygon" and r.area_km2 > 0


def test_O2_region_edit_scope_404_outside_403_view_only(tree):
    worker = f.account(perms=EDIT, scope=tree.community_a)
    with pytest.raises(NotFound):
        svc.region_update(actor=worker, region=tree.grid_b, name="改名")
    viewer = f.account(perms=[Perm.PLACE_VIEW], scope=tree.community_a)
    with pytest.raises(Forbidden):
        svc.region_update(actor=viewer, region=tree.grid_a, name="改名")
    only_place = f.account(perms=[Perm.PLACE_VIEW, Perm.PLACE_EDIT], scope=tree.community_a)
    with pytest.raises(Forbidden):
        svc.region_set_boundary(actor=only_place, region=tree.grid_a, boundary=square(117.0, 36.65, 0.002))
    with pytest.raises(Forbidden):
        svc.region_create(actor=worker, parent=None, level=Level.CITY, code="370200", name="青岛市")


def test_P1_region_update_rejects_identity_fields(tree, editor):
    with pytest.raises(Invalid) as exc:
        svc.region_update(actor=editor, region=tree.grid_a, code="370102001001009")
    assert exc.value.code == "update.readonly_fields"
    r = svc.region_update(actor=editor, region=tree.grid_a, name="甲一网格(新)", population_hint=1200)
    assert r.name == "甲一网格(新)" and AuditEntry.objects.filter(action="region.update").count() == 1


def test_P2_estate_building_unit_house_flow(tree, editor):
    est = svc.estate_create(actor=editor, region=tree.community_a, code="E-1", name="燕山小区", address="解放路1号",
                            boundary=square(117.001, 36.651, 0.002), green_ratio=Decimal("35.5"), facilities=["快递柜"])
    assert est.lat == pytest.approx(36.652)
    b = svc.building_create(actor=editor, estate=est, region=tree.grid_a, number="3", floors_above=18, floors_below=2, has_elevator=True)
    u = svc.unit_create(actor=editor, building=b, number="1")
    h = svc.house_create(actor=editor, building=b, unit=u, number="1801", floor=18, floor_area_m2="120.5", exclusive_area_m2="98")
    assert h.region_id == tree.grid_a.pk and h.address == "解放路1号燕山小区3号楼1单元1801室"
    assert h.structure == b.structure
    h2 = svc.house_create(actor=editor, building=b, unit=u, number="B101", floor=-1)
    assert h2.floor == -1
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions == ["estate.create", "building.create", "unit.create", "house.create", "house.create"]


def test_P2_estate_must_be_in_community(tree, editor):
    with pytest.raises(Invalid) as exc:
        svc.estate_create(actor=editor, region=tree.grid_a, code="E-2", name="x", address="y")
    assert exc.value.code == "estate.region_not_community"
    svc.estate_create(actor=editor, region=tree.community_a, code="E-2", name="x", address="y")
    with pytest.raises(Conflict):
        svc.estate_create(actor=editor, region=tree.community_a, code="E-2", name="x", address="y")


def test_P2_building_grid_must_be_in_estate_community(tree, editor):
    est = f.estate(tree.community_a)
    with pytest.raises(Invalid) as exc:
        svc.building_create(actor=editor, estate=est, region=tree.grid_b, number="1")
    assert exc.value.code == "building.grid_not_in_estate_community"
    with pytest.raises(Invalid):
        svc.building_create(actor=editor, estate=est, region=tree.community_a, number="1")


def test_P2_building_regrid_resyncs_house_region(tree, editor):
    grid_a2 = svc.region_create(actor=editor, parent=tree.community_a, level=Level.GRID, code="370102001001002", name="甲二网格")
    h = f.house(tree.grid_a)
    b = h.building
    svc.building_update(actor=editor, building=b, region=grid_a2)
    assert House.objects.get(pk=h.pk).region_id == grid_a2.pk
    assert AuditEntry.objects.filter(action="building.update").get().detail == {"houses_moved": 1}
    with pytest.raises(Invalid):
        svc.building_update(actor=editor, building=b, region=tree.grid_b)


def test_P2_building_floors_cannot_shrink_below_houses(tree, editor):
    h = f.house(tree.grid_a, floor=5)
    with pytest.raises(Invalid) as exc:
        svc.building_update(actor=editor, building=h.building, floors_above=4)
    assert exc.value.code == "building.houses_outside_floors"


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"floor": 0}, "house.floor_out_of_range"),
        ({"floor": 7}, "house.floor_out_of_range"),
        ({"floor": -1}, "house.floor_out_of_range"),
        ({"floor": 1, "floor_area_m2": "-3"}, "floor_area_m2.out_of_range"),
        ({"floor": 1, "floor_area_m2": "80", "exclusive_area_m2": "90"}, "house.exclusive_area_too_large"),
        ({"floor": 1, "floor_area_m2": "abc"}, "number.invalid"),
        ({"floor": 1, "use": "party"}, "use.invalid"),
    ],
)
def test_P2_house_validation(tree, editor, kw, error):
    b = f.building(f.estate(tree.community_a), tree.grid_a)  # 6 floors, no basement
    with pytest.raises(Invalid) as exc:
        svc.house_create(actor=editor, building=b, number="101", **kw)
    assert exc.value.code == error


def test_P2_house_unit_must_belong_to_building_and_number_unique(tree, editor):
    est = f.estate(tree.community_a)
    b1, b2 = f.building(est, tree.grid_a, "1"), f.building(est, tree.grid_a, "2")
    u2 = svc.unit_create(actor=editor, building=b2, number="1")
    with pytest.raises(Invalid) as exc:
        svc.house_create(actor=editor, building=b1, unit=u2, number="101", floor=1)
    assert exc.value.code == "house.unit_not_in_building"
    svc.house_create(actor=editor, building=b2, unit=u2, number="101", floor=1)
    with pytest.raises(Conflict):
        svc.house_create(actor=editor, building=b2, unit=u2, number="101", floor=1)
    h = svc.house_create(actor=editor, building=b2, unit=u2, number="102", floor=1)
    h = svc.house_update(actor=editor, house=h, layout="3室2厅1卫", floor_area_m2="88.00", use="rented")
    assert h.layout == "3室2厅1卫" and h.use == "rented"


def test_O2_house_write_outside_scope_is_404(tree):
    worker = f.account(perms=EDIT, scope=tree.community_a)
    hb = f.house(tree.grid_b)
    with pytest.raises(NotFound):
        svc.house_update(actor=worker, house=hb, layout="1室")
    with pytest.raises(NotFound):
        svc.house_create(actor=worker, building=hb.building, number="999", floor=1)
    with pytest.raises(NotFound):
        svc.estate_create(actor=worker, region=tree.community_b, code="E-x", name="x", address="y")


def test_P3_facility_create_update_and_validation(tree, editor):
    est = f.estate(tree.community_a)
    fac = svc.facility_create(actor=editor, region=tree.community_a, estate=est, kind="elderly_care", name="日间照料中心",
                              capacity=40, serves=["elderly"], lat=36.655, lng=117.005)
    fac = svc.facility_update(actor=editor, facility=fac, capacity=60)
    assert fac.capacity == 60
    with pytest.raises(Invalid) as exc:
        svc.facility_create(actor=editor, region=tree.community_b, estate=est, kind="health", name="x", capacity=1)
    assert exc.value.code == "facility.estate_outside_region"
    with pytest.raises(Invalid) as exc:
        svc.facility_create(actor=editor, region=tree.community_a, kind="spa", name="x", capacity=1)
    assert exc.value.code == "kind.invalid"
    with pytest.raises(Invalid) as exc:
        svc.facility_create(actor=editor, region=tree.community_a, kind="health", name="x", capacity=1, serves=["cats"])
    assert exc.value.code == "serves.invalid"
    with pytest.raises(Invalid):
        svc.facility_create(actor=editor, region=tree.community_a, kind="health", name="x", capacity=1, lat=36.6)


def test_P1_system_actor_may_create_root(db):
    city = svc.region_create(actor=svc.SYSTEM, parent=None, level=Level.CITY, code="370100", name="济南市")
    assert city.is_root() and Region.objects.count() == 1
    assert AuditEntry.objects.get(action="region.create").actor_label == "system"
