"""Reads for places (P1–P4). Everything is scoped with ``for_actor(actor, Perm.PLACE_VIEW)``;
objects outside the actor's scope raise NotFound (404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Length, Substr

from linli.core.errors import NotFound
from linli.core.i18n import Msg
from linli.orgs.perms import Perm

from . import geojson, spatial
from .models import Building, Estate, Facility, FacilityKind, House, Region, Unit

# Which population a kind of facility serves, for coverage (P3).
FACILITY_TARGET: dict[str, str] = {
    FacilityKind.ELDERLY_CARE: "elderly",
    FacilityKind.CANTEEN: "elderly",
    FacilityKind.CHILDCARE: "minor",
    FacilityKind.DISABILITY: "disabled",
}
TARGET_LABELS = {"elderly": "60岁及以上老年人", "minor": "18岁以下未成年人", "disabled": "残疾人", "all": "全部常住人员"}
ELDERLY_AGE = 60
ADULT_AGE = 18


def _parent_subquery(field: str = "id") -> Subquery:
    parent_path = Substr(OuterRef("path"), 1, Length(OuterRef("path")) - Region.steplen)
    return Subquery(Region.objects.order_by().filter(path=parent_path).values(field)[:1])


def _regions(actor: Any) -> QuerySet[Region]:
    return Region.objects.for_actor(actor, Perm.PLACE_VIEW).annotate(parent_id=_parent_subquery(), parent_code=_parent_subquery("code"))


def _subtree(qs: QuerySet, field: str, region_id: int | None) -> QuerySet:
    """Restrict ``qs`` to rows whose ``field`` region lies under ``region_id`` (nothing if unknown)."""
    if region_id is None:
        return qs
    path = Region.objects.order_by().filter(pk=region_id).values_list("path", flat=True).first()
    if path is None:
        return qs.none()
    return qs.filter(**{f"{field}__path__startswith": path})


def _get(qs: QuerySet, pk: int) -> Any:
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


# ---- regions -----------------------------------------------------------------------------------
def region_list(*, actor: Any, parent_id: int | None = None, level: str | None = None, q: str | None = None) -> QuerySet[Region]:
    """Regions in scope, ordered by tree path; ``parent_id`` gives that region's direct children."""
    qs = _regions(actor)
    if parent_id is not None:
        parent = Region.objects.order_by().filter(pk=parent_id).values("path", "depth").first()
        if parent is None:
            return qs.none()
        qs = qs.filter(path__startswith=parent["path"], depth=parent["depth"] + 1)
    if level:
        qs = qs.filter(level=level)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__startswith=q))
    return qs


def region_roots(*, actor: Any) -> list[Region]:
    """The top-most regions of the actor's scope (where a tree view starts)."""
    rows = list(_regions(actor).order_by("path")[:500])
    roots: list[Region] = []
    for r in rows:
        if not roots or not r.path.startswith(roots[-1].path):
            roots.append(r)
    return roots


def region_get(*, actor: Any, region_id: int) -> Region:
    return _get(_regions(actor), region_id)


def region_children(*, actor: Any, region: Region) -> QuerySet[Region]:
    return region_list(actor=actor, parent_id=region.pk)


def region_ancestors(region: Region) -> list[Region]:
    """Breadcrumb: the region's ancestors from the root down (the region itself not included)."""
    return list(Region.objects.get_ancestors(region)) if region.depth > 1 else []


def boundaries_geojson(*, actor: Any, parent_id: int | None = None, level: str | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the regions in scope that have a boundary."""
    qs = region_list(actor=actor, parent_id=parent_id, level=level).filter(boundary__isnull=False).only(
        "id", "path", "depth", "code", "name", "level", "boundary", "centroid_lat", "centroid_lng", "area_km2"
    )
    return geojson.feature_collection(qs)


def locate_point(*, actor: Any, lat: float, lng: float) -> spatial.Location:
    """P4 for an actor: the grid/community at the point, if inside the actor's scope (else 404)."""
    loc = spatial.locate(lat, lng)
    region_id = None if loc is None else (loc.grid_id or loc.community_id)
    if region_id is None or not Region.objects.for_actor(actor, Perm.PLACE_VIEW).filter(pk=region_id).exists():
        raise NotFound("places.locate_nothing", Msg("该位置不在您管辖的任何网格内", "No grid in your scope covers this point"))
    return loc


# ---- estates, buildings, units, houses -------------------------------------------------------------
def estate_list(*, actor: Any, region_id: int | None = None, q: str | None = None) -> QuerySet[Estate]:
    qs = Estate.objects.for_actor(actor, Perm.PLACE_VIEW).select_related("region", "property_company")
    qs = _subtree(qs, "region", region_id)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__startswith=q) | Q(address__icontains=q))
    return qs


def estate_get(*, actor: Any, estate_id: int) -> Estate:
    return _get(estate_list(actor=actor), estate_id)


def building_list(*, actor: Any, estate_id: int | None = None, region_id: int | None = None) -> QuerySet[Building]:
    qs = Building.objects.for_actor(actor, Perm.PLACE_VIEW).select_related("estate", "region")
    if estate_id is not None:
        qs = qs.filter(estate_id=estate_id)
    return _subtree(qs, "region", region_id)


def building_get(*, actor: Any, building_id: int) -> Building:
    return _get(building_list(actor=actor), building_id)


def unit_list(*, actor: Any, building_id: int | None = None) -> QuerySet[Unit]:
    qs = Unit.objects.for_actor(actor, Perm.PLACE_VIEW).select_related("building")
    return qs if building_id is None else qs.filter(building_id=building_id)


def unit_get(*, actor: Any, unit_id: int) -> Unit:
    return _get(unit_list(actor=actor), unit_id)


def house_list(
    *,
    actor: Any,
    building_id: int | None = None,
    unit_id: int | None = None,
    estate_id: int | None = None,
    region_id: int | None = None,
    q: str | None = None,
) -> QuerySet[House]:
    qs = House.objects.for_actor(actor, Perm.PLACE_VIEW).select_related("building__estate", "unit", "region")
    if building_id is not None:
        qs = qs.filter(building_id=building_id)
    if unit_id is not None:
        qs = qs.filter(unit_id=unit_id)
    if estate_id is not None:
        qs = qs.filter(building__estate_id=estate_id)
    qs = _subtree(qs, "region", region_id)
    if q:
        qs = qs.filter(Q(address__icontains=q) | Q(number=q))
    return qs


def house_get(*, actor: Any, house_id: int) -> House:
    return _get(house_list(actor=actor), house_id)


# ---- facilities (P3) -------------------------------------------------------------------------------
def facility_list(*, actor: Any, region_id: int | None = None, kind: str | None = None) -> QuerySet[Facility]:
    qs = Facility.objects.for_actor(actor, Perm.PLACE_VIEW).select_related("region", "estate")
    qs = _subtree(qs, "region", region_id)
    return qs.filter(kind=kind) if kind else qs


def facility_get(*, actor: Any, facility_id: int) -> Facility:
    return _get(facility_list(actor=actor), facility_id)


def _years_ago(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def population_counts(*, region: Region, today: dt.date | None = None) -> dict[str, int]:
    """Living persons managed under ``region``: all, elderly (≥60), minors (<18), disabled (tagged)."""
    from linli.people.models import (  # read-only; local to avoid an import cycle
        Person,
        SpecialGroup,
        SpecialGroupTag,
    )

    today = today or dt.date.today()
    persons = Person.objects.filter(region__path__startswith=region.path, is_deceased=False)
    counts = persons.aggregate(
        all=Count("id"),
        elderly=Count("id", filter=Q(birth_date__lte=_years_ago(today, ELDERLY_AGE))),
        minor=Count("id", filter=Q(birth_date__gt=_years_ago(today, ADULT_AGE))),
    )
    counts["disabled"] = (
        SpecialGroupTag.objects.filter(group=SpecialGroup.DISABLED, person__in=persons)
        .filter(Q(until__isnull=True) | Q(until__gte=today))
        .count()
    )
    return counts


def facility_coverage(*, actor: Any, region_id: int) -> list[dict[str, Any]]:
    """Per facility kind: count, capacity, the population it serves and capacity ÷ population."""
    region = region_get(actor=actor, region_id=region_id)
    population = population_counts(region=region)
    by_kind = {
        row["kind"]: row
        for row in facility_list(actor=actor, region_id=region.pk).order_by().values("kind").annotate(n=Count("id"), capacity=Sum("capacity"))
    }
    out = []
    for kind in FacilityKind:
        target = FACILITY_TARGET.get(kind, "all")
        row = by_kind.get(kind.value, {})
        capacity = int(row.get("capacity") or 0)
        people = population[target]
        out.append({
            "kind": kind.value,
            "kind_label": str(kind.label),
            "facilities": int(row.get("n") or 0),
            "capacity": capacity,
            "target_group": target,
            "target_label": TARGET_LABELS[target],
            "target_population": people,
            "coverage_ratio": round(capacity / people, 4) if people else None,
        })
    return out
