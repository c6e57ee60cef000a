"""Point → grid and community (P4) through an in-memory shapely STRtree.

Each process keeps one ``SpatialIndex`` built from the grid and community boundaries in the
database, tagged with the fingerprint it was built from (``BoundaryVersion.version`` plus the count
and latest change of regions, so even writes that bypass the services are noticed). The
fingerprint is re-read at most every ``settings.LINLI_SPATIAL_INDEX_TTL`` seconds, and at once in
the process that changed a boundary (services call ``invalidate``). The database stays the source
of truth; the index is only a cache and is rebuilt whenever the fingerprint moves.

A point on a shared edge belongs to both neighbours; the smallest polygon wins, then the lowest id,
so answers are stable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from .models import BoundaryVersion, Level, Region


@dataclass(frozen=True)
class Location:
    grid_id: int | None
    grid_code: str | None
    grid_name: str | None
    community_id: int | None
    community_code: str | None
    community_name: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IndexFeature:
    """One polygon for the index. A grid names its community with ``community_id``."""

    id: int
    code: str
    name: str
    level: str
    geometry: BaseGeometry | dict[str, Any]
    community_id: int | None = None


class _Layer:
    """An STRtree over one level's prepared polygons, with areas for the tie-break."""

    def __init__(self, feats: list[IndexFeature]) -> None:
        geoms = [f.geometry if isinstance(f.geometry, BaseGeometry) else shape(f.geometry) for f in feats]
        self.feats = feats
        self.geoms = np.array(geoms, dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        # Tie-break key: smallest area, then lowest id — precomputed as one integer rank per polygon.
        areas = shapely.area(self.geoms) if feats else np.empty(0)
        order = np.lexsort((np.array([f.id for f in feats], dtype=np.int64), areas))
        self.rank = np.empty(len(feats), dtype=np.int64)
        self.rank[order] = np.arange(len(feats))

    def __len__(self) -> int:
        return len(self.feats)

    def best(self, hits: np.ndarray) -> int | None:
        if hits.size == 0:
            return None
        if hits.size == 1:
            return int(hits[0])
        return int(hits[np.argmin(self.rank[hits])])

    def locate_one(self, point: BaseGeometry) -> int | None:
        return self.best(self.tree.query(point, predicate="intersects"))

    def locate_many(self, points: np.ndarray) -> np.ndarray:
        """Index of the best polygon per point, -1 where none."""
        out = np.full(len(points), -1, dtype=np.int64)
        if len(self) == 0 or len(points) == 0:
            return out
        pi, gi = self.tree.query(points, predicate="intersects")
        if pi.size == 0:
            return out
        # For every point keep the hit with the lowest rank: sort by (point, rank) and take firsts.
        order = np.lexsort((self.rank[gi], pi))
        pi, gi = pi[order], gi[order]
        first = np.ones(pi.size, dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        out[pi[first]] = gi[first]
        return out


class SpatialIndex:
    """Grids and communities of one boundary version; answers in tens of microseconds."""

    def __init__(self, features: Iterable[IndexFeature], *, version: Any = None) -> None:
        feats = list(features)
        self.version = version
        self.grids = _Layer([f for f in feats if f.level == Level.GRID])
        self.communities = _Layer([f for f in feats if f.level == Level.COMMUNITY])
        self._community_by_id = {f.id: f for f in self.communities.feats}
        self._grid_locations = [self._location(g) for g in self.grids.feats]
        self._community_locations = [Location(None, None, None, c.id, c.code, c.name) for c in self.communities.feats]

    @classmethod
    def from_features(cls, features: Iterable[IndexFeature], *, version: Any = None) -> SpatialIndex:
        return cls(features, version=version)

    @classmethod
    def from_database(cls, *, version: Any = None) -> SpatialIndex:
        rows = list(
            Region.objects.filter(level__in=[Level.GRID, Level.COMMUNITY], is_active=True, boundary__isnull=False)
            .order_by()
            .values_list("id", "path", "code", "name", "level", "boundary")
        )
        community_by_path = {path: rid for rid, path, _c, _n, level, _b in rows if level == Level.COMMUNITY}
        feats = []
        for rid, path, code, name, level, boundary in rows:
            if not boundary:
                continue
            parent = community_by_path.get(path[: -Region.steplen]) if level == Level.GRID else None
            feats.append(IndexFeature(rid, code, name, level, boundary, parent))
        return cls(feats, version=version)

    def _location(self, grid: IndexFeature) -> Location:
        c = self._community_by_id.get(grid.community_id) if grid.community_id is not None else None
        return Location(grid.id, grid.code, grid.name, c.id if c else None, c.code if c else None, c.name if c else None)

    def __len__(self) -> int:
        return len(self.grids) + len(self.communities)

    def locate(self, lat: float, lng: float) -> Location | None:
        point = shapely.Point(lng, lat)
        if len(self.grids):
            i = self.grids.locate_one(point)
            if i is not None:
                return self._grid_locations[i]
        if len(self.communities):
            i = self.communities.locate_one(point)
            if i is not None:
                return self._community_locations[i]
        return None

    def locate_many(self, points: Sequence[tuple[float, float]]) -> list[Location | None]:
        """Batch form of ``locate``; ``points`` are (lat, lng) pairs."""
        if not points:
            return []
        arr = np.asarray(points, dtype=float).reshape(-1, 2)
        geoms = shapely.points(arr[:, 1], arr[:, 0])
        out: list[Location | None] = [None] * len(arr)
        g = self.grids.locate_many(geoms)
        missing = np.flatnonzero(g < 0)
        c = self.communities.locate_many(geoms[missing]) if missing.size else np.empty(0, dtype=np.int64)
        for i in np.flatnonzero(g >= 0):
            out[i] = self._grid_locations[g[i]]
        for k, i in enumerate(missing):
            if c[k] >= 0:
                out[i] = self._community_locations[c[k]]
        return out


# ---- the per-process cache ---------------------------------------------------------------------
_lock = threading.Lock()
_index: SpatialIndex | None = None
_checked_at = float("-inf")


def fingerprint() -> tuple:
    """What the index depends on, in two small queries."""
    from django.db.models import Count, Max

    version = BoundaryVersion.objects.filter(id=1).values_list("version", flat=True).first() or 0
    agg = Region.objects.filter(level__in=[Level.GRID, Level.COMMUNITY]).order_by().aggregate(n=Count("id"), last=Max("updated_at"), top=Max("id"))
    return (version, agg["n"], agg["top"], agg["last"].isoformat() if agg["last"] else None)


def get_index() -> SpatialIndex:
    """The current process's index, re-checked at most every LINLI_SPATIAL_INDEX_TTL seconds."""
    global _index, _checked_at
    ttl = float(getattr(settings, "LINLI_SPATIAL_INDEX_TTL", 2))
    now = time.monotonic()
    index = _index
    if index is not None and now - _checked_at < ttl:
        return index
    with _lock:
        if _index is not None and time.monotonic() - _checked_at < ttl:
            return _index
        fp = fingerprint()
        if _index is None or _index.version != fp:
            _index = SpatialIndex.from_database(version=fp)
        _checked_at = time.monotonic()
        return _index


def invalidate() -> None:
    """Force a rebuild on next use (called by the process that changed a boundary)."""
    global _index, _checked_at
    with _lock:
        _index = None
        _checked_at = float("-inf")


def locate(lat: float, lng: float) -> Location | None:
    """Grid (and its community) containing the point; the community alone where no grid covers it."""
    return get_index().locate(lat, lng)


def locate_many(points: Sequence[tuple[float, float]]) -> list[Location | None]:
    return get_index().locate_many(points)
