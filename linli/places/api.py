"""/api/v1/places — regions, estates, buildings, units, houses, facilities, point lookup, boundaries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ninja import Query, Router, Status

from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page

from . import selectors as sel
from . import services as svc
from .models import FacilityKind, Level
from .schemas import (
    BoundaryIn,
    BuildingIn,
    BuildingOut,
    BuildingPatch,
    CoverageOut,
    EstateDetailOut,
    EstateIn,
    EstateOut,
    EstatePatch,
    FacilityIn,
    FacilityOut,
    FacilityPatch,
    FeatureCollectionIn,
    HouseIn,
    HouseOut,
    HousePatch,
    ImportReportOut,
    LocationOut,
    RegionDetailOut,
    RegionIn,
    RegionOut,
    RegionPatch,
    UnitIn,
    UnitOut,
    UnitPatch,
)

router = Router()


def _page(qs, cursor: str | None, limit: int | None, order: str = "-id") -> dict[str, Any]:
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, order=order)
    return {"items": rows, "next_cursor": next_cursor}


def _region_detail(actor, region_id: int):
    region = sel.region_get(actor=actor, region_id=region_id)
    region.ancestors = sel.region_ancestors(region)
    return region


def _organisation(actor, organisation_id: int | None):
    if organisation_id is None:
        return None
    from linli.orgs.selectors import organisation_get

    return organisation_get(actor=actor, organisation_id=organisation_id)


# One scoped read per kind of place (404 outside the actor's scope), by primary key.
_GET: dict[str, Callable[[Any, int], Any]] = {
    "region": lambda actor, pk: sel.region_get(actor=actor, region_id=pk),
    "estate": lambda actor, pk: sel.estate_get(actor=actor, estate_id=pk),
    "building": lambda actor, pk: sel.building_get(actor=actor, building_id=pk),
    "unit": lambda actor, pk: sel.unit_get(actor=actor, unit_id=pk),
    "house": lambda actor, pk: sel.house_get(actor=actor, house_id=pk),
    "facility": lambda actor, pk: sel.facility_get(actor=actor, facility_id=pk),
    "property_company": _organisation,
}
# The *_id fields of a payload that are turned into objects before a service sees them.
_RESOLVED = ("region", "estate", "building", "unit", "property_company")


def _resolve(actor, data: dict[str, Any]) -> dict[str, Any]:
    """Turn *_id fields of a payload into objects the actor may see (404 otherwise)."""
    out = {}
    for key, value in data.items():
        name = key.removesuffix("_id")
        if name != key and name in _RESOLVED:
            out[name] = None if value is None else _GET[name](actor, value)
        else:
            out[key] = value
    return out


def _create(request, kind: str, create: Callable[..., Any], payload) -> Status:
    """POST: create through the service from the resolved payload, answer 201 with the scoped read."""
    obj = create(actor=request.auth, **_resolve(request.auth, payload.dict()))
    return Status(201, _GET[kind](request.auth, obj.pk))


def _update(request, kind: str, update: Callable[..., Any], pk: int, payload):
    """PATCH: read in scope, change only the fields sent, answer with the scoped read."""
    obj = _GET[kind](request.auth, pk)
    update(actor=request.auth, **{kind: obj}, **_resolve(request.auth, payload.dict(exclude_unset=True)))
    return _GET[kind](request.auth, pk)


# ---- regions -----------------------------------------------------------------------------------
@router.get("/regions", response={200: Page[RegionOut], **ERRORS}, summary="区域列表 Regions")
def list_regions(request, parent_id: int | None = None, level: Level | None = None, q: str | None = None,
                 cursor: str | None = None, limit: int | None = None):
    return _page(sel.region_list(actor=request.auth, parent_id=parent_id, level=level, q=q), cursor, limit, order="path")


@router.post("/regions", response={201: RegionDetailOut, **ERRORS}, summary="新建区域 Create region")
def create_region(request, payload: RegionIn):
    parent = sel.region_get(actor=request.auth, region_id=payload.parent_id) if payload.parent_id is not None else None
    data = payload.dict(exclude={"parent_id"})
    region = svc.region_create(actor=request.auth, parent=parent, **data)
    return Status(201, _region_detail(request.auth, region.pk))


@router.get("/regions/{int:region_id}", response={200: RegionDetailOut, **ERRORS}, summary="区域详情 Region")
def get_region(request, region_id: int):
    return _region_detail(request.auth, region_id)


@router.patch("/regions/{int:region_id}", response={200: RegionDetailOut, **ERRORS}, summary="修改区域 Update region")
def update_region(request, region_id: int, payload: RegionPatch):
    region = sel.region_get(actor=request.auth, region_id=region_id)
    svc.region_update(actor=request.auth, region=region, **payload.dict(exclude_unset=True))
    return _region_detail(request.auth, region_id)


@router.put("/regions/{int:region_id}/boundary", response={200: RegionDetailOut, **ERRORS}, summary="设置边界 Set boundary")
def set_boundary(request, region_id: int, payload: BoundaryIn):
    region = sel.region_get(actor=request.auth, region_id=region_id)
    svc.region_set_boundary(actor=request.auth, region=region, boundary=payload.boundary)
    return _region_detail(request.auth, region_id)


# ---- point lookup and boundaries (P4) ----------------------------------------------------------------
@router.get("/locate", response={200: LocationOut, **ERRORS}, summary="坐标定位网格 Point → grid")
def locate(request, lat: float = Query(..., ge=-90, le=90), lng: float = Query(..., ge=-180, le=180)):
    return sel.locate_point(actor=request.auth, lat=lat, lng=lng)


@router.get("/boundaries.geojson", response={200: dict, **ERRORS}, summary="边界 GeoJSON Boundaries")
def boundaries(request, parent_id: int | None = None, level: Level | None = None):
    return sel.boundaries_geojson(actor=request.auth, parent_id=parent_id, level=level)


@router.post("/boundaries/import", response={200: ImportReportOut, **ERRORS}, summary="导入边界 Import boundaries")
def import_boundaries(request, payload: FeatureCollectionIn, dry_run: bool = False):
    return svc.boundaries_import(actor=request.auth, feature_collection=payload.dict(), dry_run=dry_run)


# ---- estates -----------------------------------------------------------------------------------
@router.get("/estates", response={200: Page[EstateOut], **ERRORS}, summary="小区列表 Estates")
def list_estates(request, region_id: int | None = None, q: str | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.estate_list(actor=request.auth, region_id=region_id, q=q), cursor, limit)


@router.post("/estates", response={201: EstateDetailOut, **ERRORS}, summary="新建小区 Create estate")
def create_estate(request, payload: EstateIn):
    return Status(201, svc.estate_create(actor=request.auth, **_resolve(request.auth, payload.dict())))


@router.get("/estates/{int:estate_id}", response={200: EstateDetailOut, **ERRORS}, summary="小区详情 Estate")
def get_estate(request, estate_id: int):
    return sel.estate_get(actor=request.auth, estate_id=estate_id)


@router.patch("/estates/{int:estate_id}", response={200: EstateDetailOut, **ERRORS}, summary="修改小区 Update estate")
def update_estate(request, estate_id: int, payload: EstatePatch):
    return _update(request, "estate", svc.estate_update, estate_id, payload)


# ---- buildings ---------------------------------------------------------------------------------
@router.get("/buildings", response={200: Page[BuildingOut], **ERRORS}, summary="楼栋列表 Buildings")
def list_buildings(request, estate_id: int | None = None, region_id: int | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.building_list(actor=request.auth, estate_id=estate_id, region_id=region_id), cursor, limit)


@router.post("/buildings", response={201: BuildingOut, **ERRORS}, summary="新建楼栋 Create building")
def create_building(request, payload: BuildingIn):
    return _create(request, "building", svc.building_create, payload)


@router.get("/buildings/{int:building_id}", response={200: BuildingOut, **ERRORS}, summary="楼栋详情 Building")
def get_building(request, building_id: int):
    return sel.building_get(actor=request.auth, building_id=building_id)


@router.patch("/buildings/{int:building_id}", response={200: BuildingOut, **ERRORS}, summary="修改楼栋 Update building")
def update_building(request, building_id: int, payload: BuildingPatch):
    return _update(request, "building", svc.building_update, building_id, payload)


# ---- units -------------------------------------------------------------------------------------
@router.get("/units", response={200: Page[UnitOut], **ERRORS}, summary="单元列表 Units")
def list_units(request, building_id: int, cursor: str | None = None, limit: int | None = None):
    return _page(sel.unit_list(actor=request.auth, building_id=building_id), cursor, limit)


@router.post("/units", response={201: UnitOut, **ERRORS}, summary="新建单元 Create unit")
def create_unit(request, payload: UnitIn):
    return Status(201, svc.unit_create(actor=request.auth, **_resolve(request.auth, payload.dict())))


@router.get("/units/{int:unit_id}", response={200: UnitOut, **ERRORS}, summary="单元详情 Unit")
def get_unit(request, unit_id: int):
    return sel.unit_get(actor=request.auth, unit_id=unit_id)


@router.patch("/units/{int:unit_id}", response={200: UnitOut, **ERRORS}, summary="修改单元 Update unit")
def update_unit(request, unit_id: int, payload: UnitPatch):
    unit = sel.unit_get(actor=request.auth, unit_id=unit_id)
    return svc.unit_update(actor=request.auth, unit=unit, number=payload.number)


# ---- houses ------------------------------------------------------------------------------------
@router.get("/houses", response={200: Page[HouseOut], **ERRORS}, summary="房屋列表 Houses")
def list_houses(request, building_id: int | None = None, unit_id: int | None = None, estate_id: int | None = None,
                region_id: int | None = None, q: str | None = None, cursor: str | None = None, limit: int | None = None):
    qs = sel.house_list(actor=request.auth, building_id=building_id, unit_id=unit_id, estate_id=estate_id, region_id=region_id, q=q)
    return _page(qs, cursor, limit)


@router.post("/houses", response={201: HouseOut, **ERRORS}, summary="新建房屋 Create house")
def create_house(request, payload: HouseIn):
    return _create(request, "house", svc.house_create, payload)


@router.get("/houses/{int:house_id}", response={200: HouseOut, **ERRORS}, summary="房屋详情 House")
def get_house(request, house_id: int):
    return sel.house_get(actor=request.auth, house_id=house_id)


@router.patch("/houses/{int:house_id}", response={200: HouseOut, **ERRORS}, summary="修改房屋 Update house")
def update_house(request, house_id: int, payload: HousePatch):
    return _update(request, "house", svc.house_update, house_id, payload)


# ---- facilities (P3) ---------------------------------------------------------------------------
@router.get("/facilities", response={200: Page[FacilityOut], **ERRORS}, summary="服务设施列表 Facilities")
def list_facilities(request, region_id: int | None = None, kind: FacilityKind | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.facility_list(actor=request.auth, region_id=region_id, kind=kind), cursor, limit)


@router.get("/facilities/coverage", response={200: list[CoverageOut], **ERRORS}, summary="设施覆盖率 Coverage")
def facility_coverage(request, region_id: int):
    return sel.facility_coverage(actor=request.auth, region_id=region_id)


@router.post("/facilities", response={201: FacilityOut, **ERRORS}, summary="新建设施 Create facility")
def create_facility(request, payload: FacilityIn):
    return _create(request, "facility", svc.facility_create, payload)


@router.get("/facilities/{int:facility_id}", response={200: FacilityOut, **ERRORS}, summary="设施详情 Facility")
def get_facility(request, facility_id: int):
    return sel.facility_get(actor=request.auth, facility_id=facility_id)


@router.patch("/facilities/{int:facility_id}", response={200: FacilityOut, **ERRORS}, summary="修改设施 Update facility")
def update_facility(request, facility_id: int, payload: FacilityPatch):
    return _update(request, "facility", svc.facility_update, facility_id, payload)
