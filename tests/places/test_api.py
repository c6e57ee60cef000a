"""P1–P3 API: CRUD, filters, one error shape, cross-community isolation, constant query counts."""

import pytest

from linli.orgs.perms import Perm
from linli.places.models import Building, Facility, House, Level
from tests import factories as f
from tests.factories import square

EDIT = [Perm.PLACE_VIEW, Perm.PLACE_EDIT, Perm.BOUNDARY_EDIT]


@pytest.fixture
def world(tree):
    """Objects in both communities: estate › building › unit › house and a facility each."""
    out = {}
    for side, community, grid in (("a", tree.community_a, tree.grid_a), ("b", tree.community_b, tree.grid_b)):
        h = f.house(grid)
        fac = Facility.objects.create(region=community, kind="health", name=f"卫生站{side}", capacity=10)
        out[side] = {"estate": h.building.estate, "building": h.building, "unit": h.unit, "house": h, "facility": fac,
                     "community": community, "grid": grid}
    return out


@pytest.fixture
def worker_a(tree):
    return f.account(perms=EDIT, scope=tree.community_a)


def _ids(resp):
    assert resp.status_code == 200, resp.content
    return {row["id"] for row in resp.json()["items"]}


def test_P1_region_tree_browse(api_as, tree, worker_a):
    c = api_as(worker_a)
    assert _ids(c.get("places/regions")) == {tree.community_a.pk, tree.grid_a.pk}
    assert _ids(c.get("places/regions", {"parent_id": tree.street.pk})) == {tree.community_a.pk}
    rows = c.get("places/regions", {"parent_id": tree.community_a.pk}).json()["items"]
    assert rows[0]["parent_id"] == tree.community_a.pk and rows[0]["level"] == "grid"
    detail = c.get(f"places/regions/{tree.grid_a.pk}").json()
    assert [a["code"] for a in detail["ancestors"]] == ["370100", "370102", "370102001", "370102001001"]
    assert detail["boundary"]["type"] == "Polygon" and detail["parent_id"] == tree.community_a.pk
    assert _ids(c.get("places/regions", {"q": "甲"})) == {tree.community_a.pk, tree.grid_a.pk}
    assert _ids(c.get("places/regions", {"level": "grid"})) == {tree.grid_a.pk}


def test_P1_region_create_patch_boundary_via_api(api_as, tree, worker_a):
    c = api_as(worker_a)
    r = c.post("places/regions", {"parent_id": tree.community_a.pk, "level": "grid", "code": "370102001001002", "name": "甲二网格",
                                  "boundary": square(117.0, 36.655, 0.005)})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["parent_id"] == tree.community_a.pk and body["area_km2"] > 0
    r = c.patch(f"places/regions/{body['id']}", {"name": "甲二网格（调整）", "population_hint": 800})
    assert r.status_code == 200 and r.json()["name"] == "甲二网格（调整）"
    r = c.put(f"places/regions/{body['id']}/boundary", {"boundary": square(117.0, 36.655, 0.004)})
    assert r.status_code == 200 and r.json()["boundary"]["coordinates"][0][1] == [117.004, 36.655]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"level": "grid", "code": "12", "name": "x"}, 422, "region.bad_code"),
        ({"level": "community", "code": "370102001001003", "name": "x"}, 422, "region.wrong_level"),
        ({"level": "grid", "code": "370102001001001", "name": "x"}, 409, "region.code_taken"),
        ({"level": "grid", "code": "370102001001003", "name": "x",
          "boundary": {"type": "Polygon", "coordinates": [[[117, 36], [117.1, 36.1], [117.1, 36], [117, 36.1], [117, 36]]]}},
         422, "boundary.invalid_geometry"),
        ({"level": "grid", "code": "370102001001003", "name": "x", "boundary": {"type": "Polygon", "coordinates": "bad"}},
         422, "boundary.bad_polygon"),
        ({"level": "moon", "code": "370102001001003", "name": "x"}, 422, "request.invalid"),
    ],
)
def test_P1_region_create_errors_have_one_shape(api_as, tree, worker_a, payload, status, code):
    r = api_as(worker_a).post("places/regions", {"parent_id": tree.community_a.pk, **payload})
    assert r.status_code == status, r.content
    body = r.json()
    assert body["code"] == code and body["message"] and "detail" in body


def test_P2_estate_to_house_via_api(api_as, tree, worker_a):
    c = api_as(worker_a)
    r = c.post("places/estates", {"region_id": tree.community_a.pk, "code": "E-API", "name": "泉城花园", "address": "泺源大街1号",
                                  "built_year": 2005, "green_ratio": "30.5", "land_area_m2": "52000"})
    assert r.status_code == 201, r.content
    est = r.json()
    assert est["region_name"] == "甲社区" and est["green_ratio"] in ("30.50", "30.5", 30.5)
    r = c.post("places/buildings", {"estate_id": est["id"], "region_id": tree.grid_a.pk, "number": "5", "floors_above": 11})
    assert r.status_code == 201, r.content
    b = r.json()
    assert b["estate_name"] == "泉城花园" and b["region_name"] == "甲一网格"
    r = c.post("places/units", {"building_id": b["id"], "number": "2"})
    assert r.status_code == 201
    u = r.json()
    r = c.post("places/houses", {"building_id": b["id"], "unit_id": u["id"], "number": "1101", "floor": 11,
                                 "floor_area_m2": "96.30", "layout": "3室2厅1卫", "property_type": "commodity"})
    assert r.status_code == 201, r.content
    h = r.json()
    assert h["region_id"] == tree.grid_a.pk and h["unit_number"] == "2" and h["estate_name"] == "泉城花园"
    r = c.post("places/houses", {"building_id": b["id"], "unit_id": u["id"], "number": "1201", "floor": 12})
    assert r.status_code == 422 and r.json()["code"] == "house.floor_out_of_range"
    r = c.patch(f"places/houses/{h['id']}", {"use": "rented", "exclusive_area_m2": "80"})
    assert r.status_code == 200 and r.json()["use"] == "rented"
    r = c.patch(f"places/houses/{h['id']}", {"exclusive_area_m2": "100"})
    assert r.status_code == 422 and r.json()["code"] == "house.exclusive_area_too_large"
    r = c.patch(f"places/estates/{est['id']}", {"name": "泉城花园二期"})
    assert r.status_code == 200 and r.json()["name"] == "泉城花园二期"
    r = c.patch(f"places/buildings/{b['id']}", {"has_elevator": True})
    assert r.status_code == 200 and r.json()["has_elevator"] is True
    r = c.patch(f"places/units/{u['id']}", {"number": "3"})
    assert r.status_code == 200 and r.json()["number"] == "3"
    assert _ids(c.get("places/houses", {"estate_id": est["id"]})) == {h["id"]}
    assert _ids(c.get("places/houses", {"q": "1101"})) == {h["id"]}
    assert _ids(c.get("places/buildings", {"estate_id": est["id"]})) == {b["id"]}
    assert _ids(c.get("places/units", {"building_id": b["id"]})) == {u["id"]}


def test_P3_facility_via_api(api_as, tree, worker_a):
    c = api_as(worker_a)
    r = c.post("places/facilities", {"region_id": tree.community_a.pk, "kind": "elderly_care", "name": "长者驿站", "capacity": 30,
                                     "serves": ["elderly"]})
    assert r.status_code == 201, r.content
    fid = r.json()["id"]
    r = c.patch(f"places/facilities/{fid}", {"capacity": 45})
    assert r.status_code == 200 and r.json()["capacity"] == 45
    assert _ids(c.get("places/facilities", {"kind": "elderly_care"})) == {fid}
    r = c.post("places/facilities", {"region_id": tree.community_a.pk, "kind": "health", "name": "x", "capacity": -1})
    assert r.status_code == 422 and r.json()["code"] == "request.invalid"


def test_O2_lists_exclude_other_community(api_as, world, worker_a):
    c = api_as(worker_a)
    a = world["a"]
    assert _ids(c.get("places/estates")) == {a["estate"].pk}
    assert _ids(c.get("places/buildings")) == {a["building"].pk}
    assert _ids(c.get("places/houses")) == {a["house"].pk}
    assert _ids(c.get("places/facilities")) == {a["facility"].pk}
    assert _ids(c.get("places/units", {"building_id": world["b"]["building"].pk})) == set()
    assert _ids(c.get("places/houses", {"region_id": world["b"]["grid"].pk})) == set()
    fc = c.get("places/boundaries.geojson").json()
    assert {ft["properties"]["code"] for ft in fc["features"]} == {"370102001001", "370102001001001"}


def _b_urls(world):
    b = world["b"]
    return [
        f"places/regions/{b['community'].pk}",
        f"places/regions/{b['grid'].pk}",
        f"places/estates/{b['estate'].pk}",
        f"places/buildings/{b['building'].pk}",
        f"places/units/{b['unit'].pk}",
        f"places/houses/{b['house'].pk}",
        f"places/facilities/{b['facility'].pk}",
    ]


def test_O2_details_and_updates_of_other_community_are_404(api_as, world, worker_a):
    c = api_as(worker_a)
    for url in _b_urls(world):
        assert c.get(url).status_code == 404, url
        r = c.patch(url, {"name": "x"} if "units" not in url else {"number": "9"})
        assert r.status_code == 404 and r.json()["code"] == "not_found", url
    b = world["b"]
    assert c.put(f"places/regions/{b['grid'].pk}/boundary", {"boundary": square(117.0, 36.6, 0.01)}).status_code == 404
    assert c.get("places/facilities/coverage", {"region_id": b["community"].pk}).status_code == 404
    creates = [
        ("places/regions", {"parent_id": b["community"].pk, "level": "grid", "code": "370102001002002", "name": "x"}),
        ("places/estates", {"region_id": b["community"].pk, "code": "E-X", "name": "x", "address": "y"}),
        ("places/buildings", {"estate_id": b["estate"].pk, "region_id": b["grid"].pk, "number": "77"}),
        ("places/units", {"building_id": b["building"].pk, "number": "7"}),
        ("places/houses", {"building_id": b["building"].pk, "number": "701", "floor": 1}),
        ("places/facilities", {"region_id": b["community"].pk, "kind": "health", "name": "x", "capacity": 1}),
    ]
    for url, payload in creates:
        assert c.post(url, payload).status_code == 404, url
    # Referencing an object of B from A's own object is a 404 as well.
    a = world["a"]
    assert c.patch(f"places/buildings/{a['building'].pk}", {"region_id": b["grid"].pk}).status_code == 404
    assert c.post("places/houses", {"building_id": a["building"].pk, "unit_id": b["unit"].pk, "number": "9", "floor": 1}).status_code == 404


def test_O2_view_only_account_gets_403_on_writes_in_scope(api_as, world, tree):
    viewer = f.account(perms=[Perm.PLACE_VIEW], scope=tree.community_a)
    c = api_as(viewer)
    a = world["a"]
    assert c.get(f"places/houses/{a['house'].pk}").status_code == 200
    r = c.patch(f"places/houses/{a['house'].pk}", {"layout": "2室"})
    assert r.status_code == 403 and r.json()["code"] == "permission.denied"


def test_O2_no_token_is_401(client, world):
    r = client.get("/api/v1/places/houses")
    assert r.status_code == 401 and r.json()["code"] == "auth.required"


def _grow(tree, n):
    est = f.estate(tree.community_a)
    for i in range(n):
        h = f.house(tree.grid_a, est=est, number=f"{i + 1:03d}")
        Facility.objects.create(region=tree.grid_a, estate=est, kind="culture", name=f"活动室{i}", capacity=5)
        Building.objects.create(estate=est, region=tree.grid_a, number=f"X{i}")
    return h


@pytest.mark.parametrize("url", ["places/regions", "places/estates", "places/buildings", "places/houses", "places/facilities"])
def test_O2_list_query_count_is_constant(api_as, tree, worker_a, django_assert_max_num_queries, url):
    c = api_as(worker_a)
    c.get(url)  # warm token/auth caches
    _grow(tree, 3)
    with django_assert_max_num_queries(6) as small:
        r = c.get(url)
    assert r.status_code == 200
    _grow(tree, 12)
    with django_assert_max_num_queries(len(small.captured_queries)):
        r = c.get(url)
    assert r.status_code == 200 and len(r.json()["items"]) >= 2


def test_O2_units_list_query_count(api_as, tree, worker_a, django_assert_max_num_queries):
    h = _grow(tree, 2)
    c = api_as(worker_a)
    with django_assert_max_num_queries(6):
        assert c.get("places/units", {"building_id": h.building_id}).status_code == 200


def test_P2_cursor_pagination(api_as, tree, worker_a):
    _grow(tree, 5)
    c = api_as(worker_a)
    seen, cursor = [], None
    while True:
        body = c.get("places/houses", {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [row["id"] for row in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == House.objects.count()
    assert c.get("places/houses", {"limit": 500}).status_code == 422
    assert c.get("places/regions", {"level": Level.GRID, "cursor": "!!"}).json()["code"] == "pagination.bad_cursor"


def test_P1_region_roots_and_breadcrumb_selectors(tree, worker_a):
    from linli.places import selectors

    assert [r.pk for r in selectors.region_roots(actor=worker_a)] == [tree.community_a.pk]
    officer = f.account(perms=[Perm.PLACE_VIEW], scope=tree.street)
    assert [r.pk for r in selectors.region_roots(actor=officer)] == [tree.street.pk]
    assert selectors.region_ancestors(tree.city) == []
    assert [r.code for r in selectors.region_ancestors(tree.grid_b)] == ["370100", "370102", "370102001", "370102001002"]
    assert [r.pk for r in selectors.region_children(actor=officer, region=tree.street)] == [tree.community_a.pk, tree.community_b.pk]
