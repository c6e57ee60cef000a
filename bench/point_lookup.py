"""P4 benchmark: point → grid lookup with 10,000 grids (goal: p99 < 1 ms).

Synthetic grids tile a jittered lattice around Jinan; each cell's edges are densified so a grid has
a few dozen vertices, like a real surveyed boundary, and neighbours share edges exactly. The
comparison point is a naive linear scan over the same shapely polygons (on a sample of queries,
since it is thousands of times slower).
"""

from __future__ import annotations

import math
import os
import random
import time

import numpy as np
import shapely

GRID, COMMUNITY = "grid", "community"


def _django() -> None:
    """linli.places.spatial imports models: make sure Django is set up (no database is touched)."""
    from django.apps import apps

    if not apps.ready:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
        django.setup()

ORIGIN = (116.90, 36.55)  # south-west corner, lng/lat
CELL = 0.002  # ≈ 180 m × 220 m per grid


def synthetic_features(n_grids: int, *, seed: int = 7, grids_per_community: int = 25) -> list:
    """``n_grids`` grid polygons (plus their communities) on a jittered, densified lattice."""
    _django()
    from linli.places.spatial import IndexFeature

    side = math.ceil(math.sqrt(n_grids))
    rng = np.random.default_rng(seed)
    xs = ORIGIN[0] + np.arange(side + 1) * CELL
    ys = ORIGIN[1] + np.arange(side + 1) * CELL
    vx, vy = np.meshgrid(xs, ys, indexing="ij")
    jitter = rng.uniform(-0.2 * CELL, 0.2 * CELL, size=(2, side + 1, side + 1))
    jitter[:, [0, -1], :] = 0
    jitter[:, :, [0, -1]] = 0
    vx, vy = vx + jitter[0], vy + jitter[1]
    feats: list[IndexFeature] = []
    community_side = max(1, int(math.sqrt(grids_per_community)))
    communities: dict[tuple[int, int], list[shapely.Geometry]] = {}
    next_id = n_grids + 1
    community_ids: dict[tuple[int, int], int] = {}
    for k in range(n_grids):
        i, j = divmod(k, side)
        ring = [(vx[i, j], vy[i, j]), (vx[i + 1, j], vy[i + 1, j]), (vx[i + 1, j + 1], vy[i + 1, j + 1]), (vx[i, j + 1], vy[i, j + 1])]
        poly = shapely.segmentize(shapely.Polygon(ring), CELL / 10)
        key = (i // community_side, j // community_side)
        if key not in community_ids:
            community_ids[key] = next_id
            next_id += 1
        communities.setdefault(key, []).append(poly)
        feats.append(IndexFeature(k + 1, f"G{k + 1:06d}", f"网格{k + 1}", GRID, poly, community_ids[key]))
    for key, polys in communities.items():
        cid = community_ids[key]
        feats.append(IndexFeature(cid, f"C{cid:06d}", f"社区{cid}", COMMUNITY, shapely.union_all(polys)))
    return feats


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    arr = np.asarray(samples_ns, dtype=float) / 1000.0
    return round(float(np.percentile(arr, 50)), 2), round(float(np.percentile(arr, 99)), 2)


def run(n_grids: int = 10000, n_queries: int = 20000) -> dict:
    """Build the index in memory (no database) and time single-point lookups; JSON-able figures."""
    _django()
    from linli.places.spatial import SpatialIndex

    t0 = time.perf_counter()
    feats = synthetic_features(n_grids)
    t1 = time.perf_counter()
    index = SpatialIndex.from_features(feats)
    t2 = time.perf_counter()
    side = math.ceil(math.sqrt(n_grids))
    full_columns = max(1, n_grids // side)
    rnd = random.Random(11)
    # Points inside the fully covered rectangle of the lattice, so every lookup finds a grid.
    points = [
        (ORIGIN[1] + rnd.uniform(0.01, side - 0.01) * CELL, ORIGIN[0] + rnd.uniform(0.01, full_columns - 0.01) * CELL)
        for _ in range(n_queries)
    ]
    for lat, lng in points[:200]:  # warm-up
        index.locate(lat, lng)
    samples, hits = [], 0
    clock = time.perf_counter_ns
    for lat, lng in points:
        a = clock()
        loc = index.locate(lat, lng)
        samples.append(clock() - a)
        hits += loc is not None and loc.grid_id is not None
    p50, p99 = _percentiles(samples)

    batch_start = time.perf_counter()
    index.locate_many(points)
    batch_us = (time.perf_counter() - batch_start) * 1e6 / len(points)

    grids = [f.geometry for f in feats if f.level == GRID]
    sample = points[: min(300, len(points))]
    base = []
    for lat, lng in sample:
        a = clock()
        pt = shapely.Point(lng, lat)
        next((g for g in grids if g.intersects(pt)), None)
        base.append(clock() - a)
    b50, b99 = _percentiles(base)
    return {
        "benchmark": "point_lookup",
        "requirement": "P4",
        "grids": n_grids,
        "communities": sum(1 for f in feats if f.level == COMMUNITY),
        "vertices_per_grid": int(shapely.get_num_coordinates(grids[0])),
        "queries": n_queries,
        "hit_rate": round(hits / n_queries, 4),
        "p50_us": p50,
        "p99_us": p99,
        "goal_p99_us": 1000,
        "meets_goal": p99 < 1000,
        "batch_per_point_us": round(batch_us, 2),
        "build_index_ms": round((t2 - t1) * 1000, 1),
        "build_polygons_ms": round((t1 - t0) * 1000, 1),
        "baseline_linear_scan_queries": len(sample),
        "baseline_linear_scan_p50_us": b50,
        "baseline_linear_scan_p99_us": b99,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=2))
