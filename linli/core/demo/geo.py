"""Polygons that tile exactly: every region is a rectangle of cells in one jittered lattice.

Lattice points are shared, so neighbouring regions have identical edges (no gaps, no overlaps),
and a parent's outline is exactly the union of its children's. Jitter (≤ 30 % of a cell) keeps
each outline a valid simple polygon while making it look surveyed rather than drawn with a ruler.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from shapely.geometry import Point, Polygon, shape
from shapely.prepared import prep

BBOX = (117.00, 36.62, 117.12, 36.70)  # lng/lat around Jinan's old town (历下区 / 市中区)
KM_PER_DEG_LAT = 111.32


@dataclass(frozen=True)
class Rect:
    """Cell index range [i0, i1) × [j0, j1) of the lattice (i = west→east, j = south→north)."""

    i0: int
    j0: int
    i1: int
    j1: int

    @property
    def w(self) -> int:
        return self.i1 - self.i0

    @property
    def h(self) -> int:
        return self.j1 - self.j0


class Lattice:
    def __init__(self, nx: int, ny: int, rng: random.Random, bbox: tuple[float, float, float, float] = BBOX):
        self.nx, self.ny = nx, ny
        x0, y0, x1, y1 = bbox
        dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
        self.points: list[list[tuple[float, float]]] = []
        for i in range(nx + 1):
            col = []
            for j in range(ny + 1):
                jx = 0.0 if i in (0, nx) else rng.uniform(-0.3, 0.3) * dx
                jy = 0.0 if j in (0, ny) else rng.uniform(-0.3, 0.3) * dy
                col.append((round(x0 + i * dx + jx, 6), round(y0 + j * dy + jy, 6)))
            self.points.append(col)

    def ring(self, r: Rect) -> list[list[float]]:
        """Closed outline of a cell rectangle through every lattice point on its edges (CCW)."""
        p = self.points
        pts = [p[i][r.j0] for i in range(r.i0, r.i1)]
        pts += [p[r.i1][j] for j in range(r.j0, r.j1)]
        pts += [p[i][r.j1] for i in range(r.i1, r.i0, -1)]
        pts += [p[r.i0][j] for j in range(r.j1, r.j0, -1)]
        pts.append(pts[0])
        return [[x, y] for x, y in pts]

    def polygon(self, r: Rect) -> dict:
        return {"type": "Polygon", "coordinates": [self.ring(r)]}


def split(r: Rect, n: int, rng: random.Random) -> list[Rect]:
    """Cut ``r`` into ``n`` rectangles by recursive halving along the longer side (sizes ±)."""
    if n <= 1:
        return [r]
    n1 = n // 2
    if r.w >= r.h:
        cut = r.i0 + max(1, min(r.w - 1, round(r.w * n1 / n + rng.uniform(-0.6, 0.6))))
        a, b = Rect(r.i0, r.j0, cut, r.j1), Rect(cut, r.j0, r.i1, r.j1)
    else:
        cut = r.j0 + max(1, min(r.h - 1, round(r.h * n1 / n + rng.uniform(-0.6, 0.6))))
        a, b = Rect(r.i0, r.j0, r.i1, cut), Rect(r.i0, cut, r.i1, r.j1)
    return split(a, n1, rng) + split(b, n - n1, rng)


def columns(r: Rect, shares: list[float]) -> list[Rect]:
    """Cut ``r`` west→east into strips with the given area shares."""
    out, i, acc = [], r.i0, 0.0
    for k, s in enumerate(shares):
        acc += s
        end = r.i1 if k == len(shares) - 1 else r.i0 + round(r.w * acc)
        out.append(Rect(i, r.j0, end, r.j1))
        i = end
    return out


def geo_stats(geojson: dict) -> tuple[float, float, float]:
    """(centroid_lng, centroid_lat, area_km2) of a lng/lat polygon (equirectangular area)."""
    g = shape(geojson)
    c = g.centroid
    km_per_deg_lng = KM_PER_DEG_LAT * math.cos(math.radians(c.y))
    return round(c.x, 6), round(c.y, 6), round(g.area * KM_PER_DEG_LAT * km_per_deg_lng, 4)


class PointSampler:
    """Uniform random points inside a polygon (rejection sampling on its bounding box)."""

    def __init__(self, geojson: dict, rng: random.Random, margin: float = 0.0):
        geom: Polygon = shape(geojson)
        self.geom = geom.buffer(-margin) if margin else geom
        if self.geom.is_empty:
            self.geom = geom
        self.prepared = prep(self.geom)
        self.bounds = self.geom.bounds
        self.rng = rng

    def point(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bounds
        for _ in range(200):
            x, y = self.rng.uniform(x0, x1), self.rng.uniform(y0, y1)
            if self.prepared.contains(Point(x, y)):
                return round(x, 6), round(y, 6)
        c = self.geom.representative_point()
        return round(c.x, 6), round(c.y, 6)
