"""P4: point → grid/community through the STRtree index, kept fresh when boundaries change."""

import pytest

from linli.orgs.perms import Perm
from linli.places import services as svc
from linli.places import spatial
from linli.places.models import Level, Region
from linli.places.spatial import IndexFeature, Location, SpatialIndex
from tests import factories as f
from tests.factories import square

# tree: community A / grid A cover [117.00, 117.01] × [36.65, 36.66]; B / grid B cover [117.01, 117.02] × same.
IN_A = (36.655, 117.005)
IN_B = (36.655, 117.015)
OUTSIDE = (30.0, 100.0)


def test_P4_locate_resolves_grid_and_community(tree):
    loc = spatial.locate(*IN_A)
    assert loc == Location(tree.grid_a.pk, tree.grid_a.code, "甲一网格", tree.community_a.pk, tree.community_a.code, "甲社区")
    assert spatial.locate(*IN_B).grid_id == tree.grid_b.pk
    assert spatial.locate(*OUTSIDE) is None


def test_P4_locate_many_matches_locate(tree):
    points = [IN_A, IN_B, OUTSIDE, (36.6599, 117.0001)]
    assert spatial.locate_many(points) == [spatial.locate(*p) for p in points]
    assert spatial.locate_many([]) == []


def test_P4_community_without_grid_answers_community_only(tree):
    Region.objects.filter(pk=tree.grid_b.pk).update(is_active=False)
    spatial.invalidate()
    loc = spatial.locate(*IN_B)
    assert loc.grid_id is None and loc.community_id == tree.community_b.pk


def test_P4_overlap_tie_break_smallest_area_then_id():
    big = IndexFeature(1, "G1", "大", Level.GRID, square(117.0, 36.6, 0.1))
    small = IndexFeature(2, "G2", "小", Level.GRID, square(117.01, 36.61, 0.01))
    twin = IndexFeature(3, "G3", "同", Level.GRID, square(117.01, 36.61, 0.01))
    index = SpatialIndex.from_features([big, small, twin])
    assert index.locate(36.615, 117.015).grid_id == 2
    assert index.locate(36.65, 117.05).grid_id == 1
    assert [loc.grid_id for loc in index.locate_many([(36.615, 117.015), (36.65, 117.05), (0, 0)]) if loc] == [2, 1]


def test_P4_point_on_shared_edge_is_stable(tree):
    # x = 117.01 is the shared edge of grid A and grid B (equal areas): lowest id wins, every time.
    ids = {spatial.locate(36.655, 117.01).grid_id for _ in range(3)}
    assert ids == {min(tree.grid_a.pk, tree.grid_b.pk)}


def test_P4_index_refreshes_after_set_boundary_in_same_process(tree):
    editor = f.account(perms=[Perm.PLACE_VIEW, Perm.BOUNDARY_EDIT], scope=tree.street)
    assert spatial.locate(36.675, 117.005) is None
    svc.region_set_boundary(actor=editor, region=tree.grid_a, boundary=square(117.0, 36.65, 0.03))
    assert spatial.locate(36.675, 117.005).grid_id == tree.grid_a.pk


def test_P4_index_rechecks_version_after_ttl(tree, settings):
    """Another process changed a boundary: this one notices at the next TTL check, not before."""
    settings.LINLI_SPATIAL_INDEX_TTL = 3600
    spatial.invalidate()
    before = spatial.locate(*IN_A)
    assert before.grid_id == tree.grid_a.pk
    # Simulate a write from another process: DB changes and version bumps, but this process's cache is not told.
    Region.objects.filter(pk=tree.grid_a.pk).update(boundary=square(118.0, 36.65, 0.01))
    from django.db.models import F

    from linli.places.models import BoundaryVersion

    BoundaryVersion.objects.get_or_create(id=1)
    BoundaryVersion.objects.filter(id=1).update(version=F("version") + 1)
    assert spatial.locate(*IN_A).grid_id == tree.grid_a.pk  # still cached within the TTL
    settings.LINLI_SPATIAL_INDEX_TTL = 0
    assert spatial.locate(*IN_A).grid_id is None  # re-checked: rebuilt from the new version
    assert spatial.locate(36.655, 118.005).grid_id == tree.grid_a.pk


def test_P4_index_cached_between_lookups(tree, django_assert_num_queries, settings):
    settings.LINLI_SPATIAL_INDEX_TTL = 3600
    spatial.locate(*IN_A)
    with django_assert_num_queries(0):
        for _ in range(100):
            spatial.locate(*IN_A)


def test_P4_locate_api_scoped(api_as, tree):
    worker = f.account(perms=[Perm.PLACE_VIEW], scope=tree.community_a)
    c = api_as(worker)
    r = c.get("places/locate", {"lat": IN_A[0], "lng": IN_A[1]})
    assert r.status_code == 200 and r.json()["grid_code"] == tree.grid_a.code and r.json()["community_name"] == "甲社区"
    r = c.get("places/locate", {"lat": IN_B[0], "lng": IN_B[1]})
    assert r.status_code == 404 and r.json()["code"] == "places.locate_nothing"
    assert c.get("places/locate", {"lat": OUTSIDE[0], "lng": OUTSIDE[1]}).status_code == 404
    assert c.get("places/locate", {"lat": 91, "lng": 117}).status_code == 422


def test_P4_bench_function_reports_figures():
    from bench.point_lookup import run

    out = run(n_grids=400, n_queries=500)
    assert out["grids"] == 400 and out["goal_p99_us"] == 1000
    assert out["p50_us"] > 0 and out["p99_us"] >= out["p50_us"] and out["baseline_linear_scan_p99_us"] > 0
    assert out["hit_rate"] == pytest.approx(1.0)
