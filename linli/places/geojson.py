"""GeoJSON for boundaries (P1, P4): validate polygons, measure them, read and write FeatureCollections.

Boundaries are WGS84 longitude/latitude Polygons or MultiPolygons. Validation is strict (closed
rings, coordinate ranges, OGC-valid per shapely) so the in-memory index never meets a broken shape.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from linli.core.errors import Invalid
from linli.core.i18n import Msg

GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LNG_EQUATOR = 111.320


@dataclass(frozen=True)
class Boundary:
    """A validated boundary: the normalised GeoJSON, its shapely shape, centroid and area."""

    geojson: dict[str, Any]
    geometry: BaseGeometry
    centroid_lat: float
    centroid_lng: float
    area_km2: float


def _bad(code: str, zh: str, en: str, **detail: Any) -> Invalid:
    return Invalid(f"boundary.{code}", Msg(zh, en), detail=detail)


def _ring(ring: Any, where: str) -> list[list[float]]:
    if not isinstance(ring, list) or len(ring) < 4:
        raise _bad("ring_too_short", "边界环至少需要4个坐标点（首尾相同）", "A ring needs at least 4 positions (first = last)", at=where)
    out: list[list[float]] = []
    for i, pos in enumerate(ring):
        if (
            not isinstance(pos, list | tuple)
            or len(pos) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in pos)
        ):
            raise _bad("bad_position", "坐标点格式错误，应为[经度, 纬度]", "A position must be [longitude, latitude]", at=f"{where}[{i}]")
        lng, lat = float(pos[0]), float(pos[1])
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            raise _bad(
                "out_of_range", "坐标超出WGS84范围（经度±180，纬度±90）", "Coordinates outside WGS84 range (lng ±180, lat ±90)",
                at=f"{where}[{i}]", position=[lng, lat],
            )
        out.append([lng, lat])
    if out[0] != out[-1]:
        raise _bad("ring_not_closed", "边界环未闭合（首尾坐标须相同）", "Ring is not closed (first and last positions differ)", at=where)
    return out


def _polygon(coords: Any, where: str) -> list[list[list[float]]]:
    if not isinstance(coords, list) or not coords:
        raise _bad("bad_polygon", "多边形坐标格式错误", "Polygon coordinates are malformed", at=where)
    return [_ring(r, f"{where}[{i}]") for i, r in enumerate(coords)]


def area_km2(geom: BaseGeometry) -> float:
    """Area in km² by a local equirectangular projection around the centroid (accurate at city scale)."""
    lat0 = math.radians(geom.centroid.y)
    kx, ky = KM_PER_DEG_LNG_EQUATOR * math.cos(lat0), KM_PER_DEG_LAT
    return float(shapely.transform(geom, lambda xy: xy * [kx, ky]).area)


def parse_boundary(value: Any) -> Boundary:
    """Validate a GeoJSON Polygon/MultiPolygon (a bare geometry or a Feature) and measure it."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in GEOMETRY_TYPES:
        raise _bad("bad_type", "边界须为GeoJSON Polygon或MultiPolygon", "Boundary must be a GeoJSON Polygon or MultiPolygon")
    coords = value.get("coordinates")
    if value["type"] == "Polygon":
        norm: dict[str, Any] = {"type": "Polygon", "coordinates": _polygon(coords, "coordinates")}
    else:
        if not isinstance(coords, list) or not coords:
            raise _bad("bad_polygon", "多边形坐标格式错误", "MultiPolygon coordinates are malformed", at="coordinates")
        norm = {"type": "MultiPolygon", "coordinates": [_polygon(p, f"coordinates[{i}]") for i, p in enumerate(coords)]}
    geom = shape(norm)
    if not geom.is_empty and not geom.is_valid:
        raise _bad("invalid_geometry", "边界几何无效（自相交或环方向错误等）", "Boundary geometry is not valid", reason=explain_validity(geom))
    if geom.is_empty or geom.area <= 0:
        raise _bad("empty", "边界面积为零", "Boundary has no area")
    c = geom.centroid
    return Boundary(norm, geom, round(c.y, 7), round(c.x, 7), round(area_km2(geom), 6))


def feature(region: Any, *, with_geometry: bool = True) -> dict[str, Any]:
    """One region as a GeoJSON Feature (properties id/code/name/level + centroid and area)."""
    return {
        "type": "Feature",
        "id": region.id,
        "geometry": region.boundary if with_geometry else None,
        "properties": {
            "id": region.id,
            "code": region.code,
            "name": region.name,
            "level": region.level,
            "parent_code": getattr(region, "parent_code", None),
            "centroid": [region.centroid_lng, region.centroid_lat] if region.centroid_lat is not None else None,
            "area_km2": region.area_km2,
        },
    }


def feature_collection(regions: Iterable[Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [feature(r) for r in regions]}


def read_feature_collection(data: Any) -> list[dict[str, Any]]:
    """The features of a FeatureCollection (shape only; each feature is validated on import)."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise Invalid("boundary_import.not_feature_collection", Msg("文件须为GeoJSON FeatureCollection", "Expected a GeoJSON FeatureCollection"))
    return data["features"]
