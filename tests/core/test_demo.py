"""manage.py demo: a valid, scoped, believable district (P1 P2 P3 H1 H2 H3 O1 O2)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from shapely.geometry import Point, shape
from shapely.ops import unary_union
from shapely.strtree import STRtree

from linli.core import pii
from linli.core.demo import DEMO_PASSWORD
from linli.core.validators import parse_resident_id
from linli.orgs.models import Account, RoleAssignment
from linli.people.models import Household, Person, Residency, SpecialGroupTag
from linli.places.models import CODE_LENGTH, Building, Estate, Facility, House, Region

PERSONS = 300


@pytest.fixture
def demo_db(db):
    out = StringIO()
    call_command("demo", persons=PERSONS, seed=7, stdout=out)
    return out.getvalue()


def test_P1_demo_tree_codes_levels_paths_and_tiling_polygons(demo_db):
    regions = list(Region.objects.all())
    by_path = {r.path: r for r in regions}
    assert {r.level for r in regions} == {"city", "district", "street", "community", "grid"}
    assert Region.objects.get(level="city").code == "370100"
    assert {"370102", "370103"} <= set(Region.objects.filter(level="district").values_list("code", flat=True))
    assert Region.objects.filter(level="street", name="解放路街道").exists()
    for r in regions:
        assert len(r.code) == CODE_LENGTH[r.level] and r.code.isdigit()
        if r.depth > 1:
            parent = by_path[r.path[: -Region.steplen]]
            assert r.code.startswith(parent.code[:4] if parent.level == "city" else parent.code)
            assert parent.numchild == sum(1 for x in regions if x.path[: -Region.steplen] == parent.path)
    assert Region.objects.find_problems() == ([], [], [], [], [])  # treebeard's own consistency check
    # polygons are valid, children tile their parent exactly, grids never overlap
    geoms = {r.pk: shape(r.boundary) for r in regions}
    assert all(g.is_valid and g.area > 0 for g in geoms.values())
    for r in regions:
        assert 117.0 <= r.centroid_lng <= 117.12 and 36.62 <= r.centroid_lat <= 36.70
        children = [c for c in regions if c.depth == r.depth + 1 and c.path.startswith(r.path)]
        if children:
            union = unary_union([geoms[c.pk] for c in children])
            assert union.symmetric_difference(geoms[r.pk]).area < 1e-12, r.name
    grids = [geoms[r.pk] for r in regions if r.level == "grid"]
    tree = STRtree(grids)
    for i, g in enumerate(grids):
        for j in tree.query(g):
            if j != i:
                assert g.intersection(grids[j]).area < 1e-12


def test_P2_H1_H2_H3_O1_demo_places_people_and_accounts(demo_db):
    grids = {r.pk: shape(r.boundary) for r in Region.objects.filter(level="grid")}
    for b in Building.objects.all():
        assert b.region_id in grids
        assert grids[b.region_id].contains(Point(b.lng, b.lat))
    assert not House.objects.exclude(region_id__in=list(grids)).exists()
    assert not House.objects.exclude(region_id=F("building__region_id")).exists()
    assert not Person.objects.exclude(region_id__in=list(grids)).exists()
    assert Estate.objects.filter(region__level="community").count() == Estate.objects.count()
    h = House.objects.first()
    assert h.layout and "室" in h.layout and h.floor_area_m2 > 0 and h.exclusive_area_m2 <= h.floor_area_m2
    assert h.address.startswith("济南市")
    assert Facility.objects.filter(capacity__gt=0).count() == Facility.objects.count() > 0
    # H1: valid ID numbers, blind indexes, phones; encrypted at rest
    persons = list(Person.objects.all())
    assert len(persons) == PERSONS
    for p in persons:
        assert p.id_number_index == pii.blind_index(p.id_number, purpose="id_number")
        assert p.id_number_tail == p.id_number[-4:]
        if p.id_type == "resident_id":
            number, birth, gender = parse_resident_id(p.id_number)
            assert birth == p.birth_date and gender == p.gender
        if p.phone:
            assert p.phone.startswith("+861") and len(p.phone) == 14
            assert p.phone_index == pii.blind_index(p.phone, purpose="phone")
    with connection.cursor() as cur:  # stored encrypted, never as plaintext
        cur.execute("SELECT id_number FROM people_person")
        assert all(v.startswith("v1:") for (v,) in cur.fetchall())
    assert sum(1 for p in persons if p.ethnicity == "01") > 0.8 * PERSONS
    assert all(p.name and len(p.name) >= 2 for p in persons)
    # H2/H3: households, current residency for everyone, tenants with lease end, special groups
    assert Household.objects.count() > 0
    current = Residency.objects.filter(move_out__isnull=True)
    assert current.values("person").distinct().count() == PERSONS
    assert current.filter(relation="tenant", lease_end__isnull=True).count() == 0
    assert not Residency.objects.exclude(house__region_id=F("person__region_id")).filter(move_out__isnull=True).exists()
    groups = set(SpecialGroupTag.objects.values_list("group", flat=True))
    assert "minor" in groups
    # O1/O2: accounts, roles scoped to the right level
    assert DEMO_PASSWORD in demo_db and "admin" in demo_db and "resident" in demo_db
    admin = Account.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(DEMO_PASSWORD)
    levels = {ra.account.username: ra.region.level for ra in RoleAssignment.objects.select_related("account", "region")}
    assert levels["street"] == "street" and levels["community"] == "community" and levels["grid"] == "grid"
    worker = Account.objects.get(username="community")
    visible = Person.objects.for_actor(worker, "person.view")
    assert 0 < visible.count() < PERSONS
    resident = Account.objects.get(username="resident")
    assert resident.kind == "resident" and resident.person_id is not None


def test_demo_if_empty_is_idempotent_and_refuses_to_load_twice(demo_db):
    counts = (Region.objects.count(), House.objects.count(), Person.objects.count())
    out = StringIO()
    call_command("demo", "--if-empty", persons=PERSONS, stdout=out)
    assert (Region.objects.count(), House.objects.count(), Person.objects.count()) == counts
    assert "admin" in out.getvalue() and DEMO_PASSWORD in out.getvalue()
    with pytest.raises(CommandError):
        call_command("demo", persons=10, stdout=StringIO())
