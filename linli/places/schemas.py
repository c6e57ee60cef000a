"""API schemas for places: separate In (create), Patch (partial update) and Out shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from .models import FacilityKind, HouseUse, Level, PropertyType, Structure

GeoJSON = dict[str, Any]


# ---- regions -----------------------------------------------------------------------------------
class RegionRef(Schema):
    id: int
    code: str
    name: str
    level: Level


class RegionOut(Schema):
    id: int
    parent_id: int | None = None
    level: Level
    code: str
    name: str
    depth: int
    has_children: bool = False
    centroid_lat: float | None
    centroid_lng: float | None
    area_km2: float | None
    population_hint: int | None
    is_active: bool

    @staticmethod
    def resolve_has_children(obj) -> bool:
        return bool(obj.numchild)


class RegionDetailOut(RegionOut):
    boundary: GeoJSON | None
    ancestors: list[RegionRef] = []


class RegionIn(Schema):
    parent_id: int | None = None
    level: Level
    code: str = Field(..., min_length=1, max_length=20)
    name: str = Field(..., min_length=1, max_length=100)
    boundary: GeoJSON | None = None
    population_hint: int | None = Field(None, ge=0)


class RegionPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    population_hint: int | None = Field(None, ge=0)
    is_active: bool | None = None
    boundary: GeoJSON | None = None


class BoundaryIn(Schema):
    boundary: GeoJSON | None


class LocationOut(Schema):
    grid_id: int | None
    grid_code: str | None
    grid_name: str | None
    community_id: int | None
    community_code: str | None
    community_name: str | None


class FeatureCollectionIn(Schema):
    type: str
    features: list[dict[str, Any]] = Field(..., max_length=20000)


class ImportErrorOut(Schema):
    index: int
    code: str | None
    error: str
    message: str
    detail: dict[str, Any] = {}


class ImportReportOut(Schema):
    ok: bool
    dry_run: bool
    features: int
    created: int
    updated: int
    unchanged: int
    errors: list[ImportErrorOut]


# ---- estates -----------------------------------------------------------------------------------
class EstateOut(Schema):
    id: int
    region_id: int
    region_name: str = Field(..., alias="region.name")
    code: str
    name: str
    address: str
    property_company_id: int | None
    property_company_name: str | None = None
    built_year: int | None
    land_area_m2: Decimal | None
    green_ratio: Decimal | None
    lat: float | None
    lng: float | None
    facilities: list[str]

    @staticmethod
    def resolve_property_company_name(obj) -> str | None:
        return obj.property_company.name if obj.property_company_id else None


class EstateDetailOut(EstateOut):
    boundary: GeoJSON | None


class EstateIn(Schema):
    region_id: int
    code: str = Field(..., min_length=1, max_length=32)
    name: str = Field(..., min_length=1, max_length=100)
    address: str = Field(..., min_length=1, max_length=200)
    property_company_id: int | None = None
    built_year: int | None = None
    land_area_m2: Decimal | None = None
    green_ratio: Decimal | None = None
    boundary: GeoJSON | None = None
    lat: float | None = None
    lng: float | None = None
    facilities: list[str] = []


class EstatePatch(Schema):
    code: str | None = Field(None, min_length=1, max_length=32)
    name: str | None = Field(None, min_length=1, max_length=100)
    address: str | None = Field(None, min_length=1, max_length=200)
    property_company_id: int | None = None
    built_year: int | None = None
    land_area_m2: Decimal | None = None
    green_ratio: Decimal | None = None
    boundary: GeoJSON | None = None
    lat: float | None = None
    lng: float | None = None
    facilities: list[str] | None = None


# ---- buildings and units -----------------------------------------------------------------------
class BuildingOut(Schema):
    id: int
    estate_id: int
    estate_name: str = Field(..., alias="estate.name")
    region_id: int
    region_name: str = Field(..., alias="region.name")
    number: str
    name: str
    floors_above: int
    floors_below: int
    structure: Structure
    built_year: int | None
    has_elevator: bool
    lat: float | None
    lng: float | None


class BuildingIn(Schema):
    estate_id: int
    region_id: int
    number: str = Field(..., min_length=1, max_length=20)
    name: str = Field("", max_length=50)
    floors_above: int = Field(6, ge=1, le=200)
    floors_below: int = Field(0, ge=0, le=20)
    structure: Structure = Structure.BRICK_CONCRETE
    built_year: int | None = None
    has_elevator: bool = False
    lat: float | None = None
    lng: float | None = None


class BuildingPatch(Schema):
    region_id: int | None = None
    number: str | None = Field(None, min_length=1, max_length=20)
    name: str | None = Field(None, max_length=50)
    floors_above: int | None = Field(None, ge=1, le=200)
    floors_below: int | None = Field(None, ge=0, le=20)
    structure: Structure | None = None
    built_year: int | None = None
    has_elevator: bool | None = None
    lat: float | None = None
    lng: float | None = None


class UnitOut(Schema):
    id: int
    building_id: int
    number: str


class UnitIn(Schema):
    building_id: int
    number: str = Field(..., min_length=1, max_length=20)


class UnitPatch(Schema):
    number: str = Field(..., min_length=1, max_length=20)


# ---- houses ------------------------------------------------------------------------------------
class HouseOut(Schema):
    id: int
    building_id: int
    building_number: str = Field(..., alias="building.number")
    estate_id: int = Field(..., alias="building.estate_id")
    estate_name: str = Field(..., alias="building.estate.name")
    unit_id: int | None
    unit_number: str | None = None
    region_id: int
    region_name: str = Field(..., alias="region.name")
    number: str
    floor: int
    address: str
    property_type: PropertyType
    structure: Structure
    layout: str
    floor_area_m2: Decimal | None
    exclusive_area_m2: Decimal | None
    use: HouseUse
    photos: list[str]

    @staticmethod
    def resolve_unit_number(obj) -> str | None:
        return obj.unit.number if obj.unit_id else None


class HouseIn(Schema):
    building_id: int
    unit_id: int | None = None
    number: str = Field(..., min_length=1, max_length=20)
    floor: int
    address: str = Field("", max_length=200)
    property_type: PropertyType = PropertyType.COMMODITY
    structure: Structure | None = None
    layout: str = Field("", max_length=30)
    floor_area_m2: Decimal | None = None
    exclusive_area_m2: Decimal | None = None
    use: HouseUse = HouseUse.SELF_OCCUPIED
    photos: list[str] = []


class HousePatch(Schema):
    unit_id: int | None = None
    number: str | None = Field(None, min_length=1, max_length=20)
    floor: int | None = None
    address: str | None = Field(None, min_length=1, max_length=200)
    property_type: PropertyType | None = None
    structure: Structure | None = None
    layout: str | None = Field(None, max_length=30)
    floor_area_m2: Decimal | None = None
    exclusive_area_m2: Decimal | None = None
    use: HouseUse | None = None
    photos: list[str] | None = None


# ---- facilities --------------------------------------------------------------------------------
class FacilityOut(Schema):
    id: int
    region_id: int
    region_name: str = Field(..., alias="region.name")
    estate_id: int | None
    kind: FacilityKind
    name: str
    address: str
    capacity: int
    serves: list[str]
    opening_hours: str
    phone: str
    lat: float | None
    lng: float | None


class FacilityIn(Schema):
    region_id: int
    estate_id: int | None = None
    kind: FacilityKind
    name: str = Field(..., min_length=1, max_length=100)
    address: str = Field("", max_length=200)
    capacity: int = Field(..., ge=0)
    serves: list[str] = []
    opening_hours: str = Field("", max_length=100)
    phone: str = Field("", max_length=30)
    lat: float | None = None
    lng: float | None = None


class FacilityPatch(Schema):
    estate_id: int | None = None
    kind: FacilityKind | None = None
    name: str | None = Field(None, min_length=1, max_length=100)
    address: str | None = Field(None, max_length=200)
    capacity: int | None = Field(None, ge=0)
    serves: list[str] | None = None
    opening_hours: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=30)
    lat: float | None = None
    lng: float | None = None


class CoverageOut(Schema):
    kind: FacilityKind
    kind_label: str
    facilities: int
    capacity: int
    target_group: str
    target_label: str
    target_population: int
    coverage_ratio: float | None
