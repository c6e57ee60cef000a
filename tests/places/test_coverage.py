"""P3: facility capacity against the population it serves."""

import datetime as dt

from linli.orgs.perms import Perm
from linli.people.models import SpecialGroupTag
from linli.places import selectors
from linli.places.models import Facility
from tests import factories as f


def _ages(tree):
    today = dt.date.today()
    for years in (70, 65, 61):  # elderly in A
        f.person(tree.grid_a, birth_date=today.replace(year=today.year - years) - dt.timedelta(days=1))
    for years in (5, 12):  # minors in A
        f.person(tree.grid_a, birth_date=today.replace(year=today.year - years))
    disabled = f.person(tree.grid_a, birth_date=dt.date(1980, 5, 1))
    SpecialGroupTag.objects.create(person=disabled, group="disabled")
    gone = f.person(tree.grid_a, birth_date=dt.date(1990, 1, 1))
    SpecialGroupTag.objects.create(person=gone, group="disabled", until=today - dt.timedelta(days=1))
    f.person(tree.grid_a, birth_date=dt.date(1930, 1, 1), is_deceased=True)
    f.person(tree.grid_b, birth_date=dt.date(1940, 1, 1))  # other community


def test_P3_coverage_per_kind(tree):
    _ages(tree)
    Facility.objects.create(region=tree.grid_a, kind="elderly_care", name="日间照料", capacity=2)
    Facility.objects.create(region=tree.community_a, kind="canteen", name="长者食堂", capacity=4)
    Facility.objects.create(region=tree.community_a, kind="childcare", name="儿童之家", capacity=1)
    Facility.objects.create(region=tree.community_b, kind="elderly_care", name="B照料", capacity=50)
    admin = f.account(perms=[Perm.PLACE_VIEW], scope=tree.city)
    rows = {r["kind"]: r for r in selectors.facility_coverage(actor=admin, region_id=tree.community_a.pk)}
    assert (rows["elderly_care"]["capacity"], rows["elderly_care"]["target_population"], rows["elderly_care"]["coverage_ratio"]) == (2, 3, 0.6667)
    assert rows["canteen"]["target_group"] == "elderly" and rows["canteen"]["coverage_ratio"] == 1.3333
    assert (rows["childcare"]["target_population"], rows["childcare"]["coverage_ratio"]) == (2, 0.5)
    assert (rows["disability"]["target_population"], rows["disability"]["capacity"], rows["disability"]["coverage_ratio"]) == (1, 0, 0.0)
    assert rows["health"]["target_population"] == 7 and rows["health"]["facilities"] == 0
    street = {r["kind"]: r for r in selectors.facility_coverage(actor=admin, region_id=tree.street.pk)}
    assert street["elderly_care"]["capacity"] == 52 and street["elderly_care"]["target_population"] == 4


def test_P3_coverage_api_and_scope(api_as, tree):
    _ages(tree)
    worker = f.account(perms=[Perm.PLACE_VIEW], scope=tree.community_a)
    c = api_as(worker)
    r = c.get("places/facilities/coverage", {"region_id": tree.community_a.pk})
    assert r.status_code == 200 and len(r.json()) == 10
    assert c.get("places/facilities/coverage", {"region_id": tree.community_b.pk}).status_code == 404
    assert c.get("places/facilities/coverage", {"region_id": tree.street.pk}).status_code == 404
