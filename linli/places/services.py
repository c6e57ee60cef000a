"""Writes for places (P1–P4). Keyword-only, atomic, permission- and scope-checked, audited.

Permission rule: the target (or the parent it is created under) must lie in the actor's scope for
the named permission. An object the actor cannot even see answers 404; one it can see but not
edit answers 403.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F, Model

from linli.audit.services import record, snapshot
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound, validation_detail
from linli.core.i18n import Msg
from linli.core.scoping import path_in_scope
from linli.orgs.perms import Perm

from . import geojson, spatial
from .models import (
    CODE_LENGTH,
    LEVEL_ORDER,
    BoundaryVersion,
    Building,
    Estate,
    Facility,
    FacilityKind,
    House,
    HouseUse,
    Level,
    PropertyType,
    Region,
    Structure,
    Unit,
)

SERVES = ("elderly", "minor", "disabled", "all")


class SystemActor:
    """The actor for management commands and tasks: unrestricted scope, audited as 'system'."""

    pk = None
    username = "system"
    is_authenticated = True
    is_active = True
    is_superuser = True

    def scope_paths(self, perm: str) -> list[str] | None:
        return None


SYSTEM = SystemActor()


# ---- checks --------------------------------------------------------------------------------------
def _paths(actor: Any, perm: str) -> list[str] | None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", True):
        return []
    return actor.scope_paths(perm)


def check_region_perm(*, actor: Any, region: Region, perm: str) -> None:
    """Raise NotFound (cannot see) or Forbidden (can see, may not do) unless ``region`` is in scope."""
    if path_in_scope(region.path, _paths(actor, perm)):
        return
    if path_in_scope(region.path, _paths(actor, Perm.PLACE_VIEW)):
        raise Forbidden("permission.denied", Msg("没有执行此操作的权限", "You do not have permission for this action"), detail={"perm": str(perm)})
    raise NotFound()


def _is_official(code: str, level: str) -> bool:
    return code.isdigit() and len(code) == CODE_LENGTH[Level(level)]


def next_level(parent: Region | None) -> str | None:
    if parent is None:
        return Level.CITY
    i = LEVEL_ORDER.index(Level(parent.level))
    return LEVEL_ORDER[i + 1] if i + 1 < len(LEVEL_ORDER) else None


def check_region_code(*, level: str, code: str, parent: Region | None) -> None:
    """Digits of the official length; a child's code starts with its (official-style) parent's code."""
    length = CODE_LENGTH[Level(level)]
    if not _is_official(code, level):
        raise Invalid(
            "region.bad_code", Msg("区划代码须为{n}位数字", "The code of this level must be {n} digits"), n=length,
            detail={"level": level, "length": length},
        )
    if parent is not None and _is_official(parent.code, parent.level):
        # District codes share the city's first four digits (370100 → 370102); deeper levels extend the parent.
        prefix = parent.code[:4] if level == Level.DISTRICT else parent.code
        if not code.startswith(prefix) or code == parent.code:
            raise Invalid(
                "region.code_not_under_parent", Msg("区划代码须以上级代码{prefix}开头", "The code must start with the parent's code {prefix}"),
                prefix=prefix, detail={"prefix": prefix},
            )


def check_level(*, parent: Region | None, level: str) -> None:
    expected = next_level(parent)
    if level not in Level.values or level != expected:
        raise Invalid(
            "region.wrong_level", Msg("层级错误：此处应为{expected}", "Wrong level: expected {expected} here"),
            expected=expected or "-", detail={"expected": expected, "given": level},
        )


def _clean(obj: Model, *, exclude: list[str] | None = None) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise Invalid("validation.failed", Msg("数据校验未通过", "Validation failed"), detail={"fields": validation_detail(exc)}) from exc


def _name(value: Any, field: str = "name", max_length: int = 100) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text or len(text) > max_length:
        raise Invalid(
            f"{field}.invalid", Msg("{field}不能为空且不超过{n}个字符", "{field} must be 1–{n} characters"), field=field, n=max_length,
            detail={"field": field},
        )
    return text


def _latlng(lat: Any, lng: Any) -> None:
    if (lat is None) != (lng is None):
        raise Invalid("geo.incomplete", Msg("经纬度须同时填写", "Latitude and longitude go together"))
    if lat is not None and not (-90 <= float(lat) <= 90 and -180 <= float(lng) <= 180):
        raise Invalid("geo.out_of_range", Msg("经纬度超出范围", "Latitude/longitude out of range"), detail={"lat": lat, "lng": lng})


def _decimal(value: Any, field: str, *, maximum: Decimal) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise Invalid("number.invalid", Msg("{field}须为数字", "{field} must be a number"), field=field, detail={"field": field}) from exc
    if not d.is_finite() or d <= 0 or d > maximum:
        raise Invalid(
            f"{field}.out_of_range", Msg("{field}须大于0且不超过{max}", "{field} must be > 0 and ≤ {max}"), field=field, max=maximum,
            detail={"field": field, "max": str(maximum)},
        )
    return d


def _year(value: Any, field: str = "built_year") -> None:
    if value is not None and not (1800 <= int(value) <= dt.date.today().year + 5):
        raise Invalid("built_year.out_of_range", Msg("建成年份不合理", "Built year out of range"), detail={"field": field})


def _choice(value: str, choices: type[models.TextChoices], field: str) -> None:
    if value not in choices.values:
        raise Invalid(f"{field}.invalid", Msg("{field}取值无效", "Invalid {field}"), field=field, detail={"field": field, "allowed": list(choices.values)})


def _reject_unknown(changes: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise Invalid("update.readonly_fields", Msg("这些字段不可修改：{f}", "These fields cannot be changed: {f}"), f=", ".join(unknown), detail={"fields": unknown})


def _save(obj: Model, conflict: Conflict) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise conflict from exc


def boundaries_changed() -> None:
    """Bump the boundary version (inside the caller's transaction); refresh this process's index."""
    BoundaryVersion.objects.get_or_create(id=1)
    BoundaryVersion.objects.filter(id=1).update(version=F("version") + 1)
    spatial.invalidate()
    transaction.on_commit(spatial.invalidate)


_REGION_AUDIT_FIELDS = ["id", "path", "level", "code", "name", "centroid_lat", "centroid_lng", "area_km2", "population_hint", "is_active"]


def _region_snap(region: Region) -> dict[str, Any]:
    snap = snapshot(region, _REGION_AUDIT_FIELDS)
    snap["boundary_points"] = _points(region.boundary)
    return snap


def _points(boundary: dict | None) -> int:
    if not boundary:
        return 0
    polys = [boundary["coordinates"]] if boundary["type"] == "Polygon" else boundary["coordinates"]
    return sum(len(ring) for poly in polys for ring in poly)


def _apply_boundary(region: Region, boundary: dict | None) -> None:
    if boundary is None:
        region.boundary = region.centroid_lat = region.centroid_lng = region.area_km2 = None
        return
    b = geojson.parse_boundary(boundary)
    region.boundary, region.centroid_lat, region.centroid_lng, region.area_km2 = b.geojson, b.centroid_lat, b.centroid_lng, b.area_km2


# ---- regions (P1) ----------------------------------------------------------------------------------
@transaction.atomic
def region_create(
    *,
    actor: Any,
    parent: Region | None,
    level: str,
    code: str,
    name: str,
    boundary: dict | None = None,
    population_hint: int | None = None,
    is_active: bool = True,
) -> Region:
    if parent is None:
        if _paths(actor, Perm.PLACE_EDIT) is not None:
            raise Forbidden("region.root_requires_admin", Msg("只有系统管理员可以创建市级根节点", "Only administrators may create a root city"))
    else:
        parent = Region.objects.get(pk=parent.pk)  # fresh path/numchild: sorted inserts move siblings
        check_region_perm(actor=actor, region=parent, perm=Perm.PLACE_EDIT)
        if boundary is not None:
            check_region_perm(actor=actor, region=parent, perm=Perm.BOUNDARY_EDIT)
    code = (code or "").strip()
    check_level(parent=parent, level=level)
    check_region_code(level=level, code=code, parent=parent)
    if Region.objects.filter(code=code).exists():
        raise Conflict("region.code_taken", Msg("区划代码{value}已存在", "Region code {value} already exists"), value=code, detail={"code": code})
    if population_hint is not None and population_hint < 0:
        raise Invalid("population_hint.invalid", Msg("人口数不能为负", "Population cannot be negative"))
    region = Region(level=level, code=code, name=_name(name), population_hint=population_hint, is_active=is_active)
    _apply_boundary(region, boundary)
    fields = {f: getattr(region, f) for f in ("level", "code", "name", "population_hint", "is_active", "boundary", "centroid_lat", "centroid_lng", "area_km2")}
    region = Region.objects.add_root(fields) if parent is None else Region.objects.add_child(parent, fields)
    record(actor=actor, action="region.create", obj=region, after=_region_snap(region), region_path=region.path)
    boundaries_changed()
    return region


REGION_UPDATABLE = {"name", "population_hint", "is_active", "boundary"}


@transaction.atomic
def region_update(*, actor: Any, region: Region, **changes: Any) -> Region:
    """Change name, population_hint, is_active and/or boundary. Code and level are identity: fixed."""
    _reject_unknown(changes, REGION_UPDATABLE)
    region = Region.objects.select_for_update().get(pk=region.pk)
    check_region_perm(actor=actor, region=region, perm=Perm.PLACE_EDIT)
    if "boundary" in changes:
        region = region_set_boundary(actor=actor, region=region, boundary=changes.pop("boundary"))
    if not changes:
        return region
    before = _region_snap(region)
    if "name" in changes:
        region.name = _name(changes["name"])
    if "population_hint" in changes:
        hint = changes["population_hint"]
        if hint is not None and hint < 0:
            raise Invalid("population_hint.invalid", Msg("人口数不能为负", "Population cannot be negative"))
        region.population_hint = hint
    if "is_active" in changes:
        region.is_active = bool(changes["is_active"])
    region.save()
    record(actor=actor, action="region.update", obj=region, before=before, after=_region_snap(region), region_path=region.path)
    if before["name"] != region.name or before["is_active"] != region.is_active:
        boundaries_changed()  # the index reports names and skips inactive regions
    return region


@transaction.atomic
def region_set_boundary(*, actor: Any, region: Region, boundary: dict | None) -> Region:
    """Replace (or clear, with None) a region's boundary; recomputes centroid/area; bumps BoundaryVersion."""
    region = Region.objects.select_for_update().get(pk=region.pk)
    check_region_perm(actor=actor, region=region, perm=Perm.BOUNDARY_EDIT)
    before = _region_snap(region)
    _apply_boundary(region, boundary)
    region.save()
    record(actor=actor, action="region.set_boundary", obj=region, before=before, after=_region_snap(region), region_path=region.path)
    boundaries_changed()
    return region


# ---- boundary import (P1, P4) ----------------------------------------------------------------------
def _feature_error(index: int, code: Any, exc: Exception | str, err_code: str = "") -> dict[str, Any]:
    if isinstance(exc, Exception) and hasattr(exc, "code") and hasattr(exc, "message"):
        return {"index": index, "code": code, "error": exc.code, "message": exc.message, "detail": getattr(exc, "detail", {})}
    return {"index": index, "code": code, "error": err_code, "message": str(exc), "detail": {}}


@transaction.atomic
def boundaries_import(*, actor: Any, feature_collection: dict, dry_run: bool = False) -> dict[str, Any]:
    """Create or update regions from a FeatureCollection, matched by ``properties.code``.

    New regions need ``properties.level``, ``name`` and ``parent_code`` (except a city); parents may
    come earlier in the same file. All or nothing: any row error → nothing is written and the report
    lists every row error (raised as Invalid unless ``dry_run``).
    """
    features = geojson.read_feature_collection(feature_collection)
    errors: list[dict[str, Any]] = []
    created = updated = unchanged = 0
    level_rank = {lv.value: i for i, lv in enumerate(LEVEL_ORDER)}

    def sort_key(item: tuple[int, Any]) -> int:
        props = item[1].get("properties") if isinstance(item[1], dict) else None
        return level_rank.get(str((props or {}).get("level")), len(LEVEL_ORDER))

    with transaction.atomic():
        for index, feat in sorted(enumerate(features), key=sort_key):
            props = (feat.get("properties") if isinstance(feat, dict) else None) or {}
            code = str(props.get("code") or "").strip()
            if not code:
                errors.append(_feature_error(index, None, "properties.code is required", "boundary_import.code_missing"))
                continue
            try:
                with transaction.atomic():
                    existing = Region.objects.filter(code=code).first()
                    if existing is not None:
                        if props.get("level") and props["level"] != existing.level:
                            raise Invalid("region.level_mismatch", Msg("层级与已有区域不一致", "Level differs from the existing region"))
                        changed = False
                        new_boundary = geojson.parse_boundary(feat.get("geometry")).geojson if feat.get("geometry") else existing.boundary
                        if new_boundary != existing.boundary:
                            existing = region_set_boundary(actor=actor, region=existing, boundary=new_boundary)
                            changed = True
                        if props.get("name") and props["name"] != existing.name:
                            region_update(actor=actor, region=existing, name=props["name"])
                            changed = True
                        updated += changed
                        unchanged += not changed
                    else:
                        parent_code = props.get("parent_code") or props.get("parent")
                        parent = Region.objects.filter(code=str(parent_code)).first() if parent_code else None
                        if parent_code and parent is None:
                            raise Invalid("boundary_import.parent_missing", Msg("上级区域{p}不存在", "Parent region {p} not found"), p=parent_code)
                        region_create(
                            actor=actor, parent=parent, level=str(props.get("level") or ""), code=code,
                            name=props.get("name") or "", boundary=feat.get("geometry"),
                            population_hint=props.get("population_hint"),
                        )
                        created += 1
            except (Invalid, Conflict, Forbidden, NotFound) as exc:
                errors.append(_feature_error(index, code, exc))
        report = {
            "ok": not errors, "dry_run": dry_run, "features": len(features),
            "created": created, "updated": updated, "unchanged": unchanged, "errors": sorted(errors, key=lambda e: e["index"]),
        }
        if errors or dry_run:
            transaction.set_rollback(True)
    if errors and not dry_run:
        raise Invalid(
            "boundary_import.failed", Msg("导入未执行：{n}条要素有错误", "Nothing imported: {n} feature(s) have errors"), n=len(errors),
            detail={"errors": report["errors"]},
        )
    if not dry_run:
        record(actor=actor, action="boundaries.import", object_type="places.region", detail={k: v for k, v in report.items() if k != "errors"})
    return report


# ---- estates (P2) ----------------------------------------------------------------------------------
def _check_estate_fields(e: Estate) -> None:
    _year(e.built_year)
    if e.green_ratio is not None and not (0 <= Decimal(str(e.green_ratio)) <= 100):
        raise Invalid("green_ratio.out_of_range", Msg("绿化率须在0到100之间", "Green ratio must be 0–100"))
    e.land_area_m2 = _decimal(e.land_area_m2, "land_area_m2", maximum=Decimal("100000000"))
    _latlng(e.lat, e.lng)
    if not isinstance(e.facilities, list) or not all(isinstance(x, str) and x.strip() for x in e.facilities):
        raise Invalid("facilities.invalid", Msg("小区配套设施须为文字列表", "Estate facilities must be a list of names"))


def _check_company(company: Any) -> None:
    if company is not None and getattr(company, "type", "property_company") != "property_company":
        raise Invalid("estate.not_property_company", Msg("所选组织不是物业服务企业", "The organisation is not a property management company"))


@transaction.atomic
def estate_create(
    *,
    actor: Any,
    region: Region,
    code: str,
    name: str,
    address: str,
    property_company: Any = None,
    built_year: int | None = None,
    land_area_m2: Any = None,
    green_ratio: Any = None,
    boundary: dict | None = None,
    lat: float | None = None,
    lng: float | None = None,
    facilities: list[str] | None = None,
) -> Estate:
    check_region_perm(actor=actor, region=region, perm=Perm.PLACE_EDIT)
    if region.level != Level.COMMUNITY:
        raise Invalid("estate.region_not_community", Msg("小区须属于社区一级", "An estate belongs to a community"))
    _check_company(property_company)
    estate = Estate(
        region=region, code=(code or "").strip(), name=_name(name), address=_name(address, "address", 200),
        property_company=property_company, built_year=built_year, land_area_m2=land_area_m2, green_ratio=green_ratio,
        lat=lat, lng=lng, facilities=list(facilities or []),
    )
    if not estate.code:
        raise Invalid("code.invalid", Msg("小区编码不能为空", "Estate code is required"))
    if boundary is not None:
        b = geojson.parse_boundary(boundary)
        estate.boundary = b.geojson
        if estate.lat is None:
            estate.lat, estate.lng = b.centroid_lat, b.centroid_lng
    _check_estate_fields(estate)
    _clean(estate)
    _save(estate, Conflict("estate.code_taken", Msg("小区编码已存在", "Estate code already exists")))
    record(actor=actor, action="estate.create", obj=estate, after=snapshot(estate), region_path=region.path)
    return estate


ESTATE_UPDATABLE = {"code", "name", "address", "property_company", "built_year", "land_area_m2", "green_ratio", "boundary", "lat", "lng", "facilities"}


@transaction.atomic
def estate_update(*, actor: Any, estate: Estate, **changes: Any) -> Estate:
    _reject_unknown(changes, ESTATE_UPDATABLE)
    estate = Estate.objects.select_for_update(of=("self",)).select_related("region").get(pk=estate.pk)
    check_region_perm(actor=actor, region=estate.region, perm=Perm.PLACE_EDIT)
    before = snapshot(estate)
    if "property_company" in changes:
        _check_company(changes["property_company"])
    for field, value in changes.items():
        if field == "boundary":
            estate.boundary = geojson.parse_boundary(value).geojson if value is not None else None
        elif field in ("name", "code"):
            setattr(estate, field, _name(value, field, 100 if field == "name" else 32))
        elif field == "address":
            estate.address = _name(value, "address", 200)
        elif field == "facilities":
            estate.facilities = list(value or [])
        else:
            setattr(estate, field, value)
    _check_estate_fields(estate)
    _clean(estate)
    _save(estate, Conflict("estate.code_taken", Msg("小区编码已存在", "Estate code already exists")))
    record(actor=actor, action="estate.update", obj=estate, before=before, after=snapshot(estate), region_path=estate.region.path)
    return estate


# ---- buildings (P2) --------------------------------------------------------------------------------
def _check_grid_in_estate(grid: Region, estate: Estate) -> None:
    community = estate.region
    if grid.level != Level.GRID or not grid.path.startswith(community.path) or grid.depth != community.depth + 1:
        raise Invalid(
            "building.grid_not_in_estate_community", Msg("楼栋所属网格须在小区所在社区内", "The building's grid must lie in the estate's community"),
            detail={"community_id": community.pk},
        )


def _check_building_fields(b: Building) -> None:
    if not (1 <= int(b.floors_above) <= 200) or not (0 <= int(b.floors_below) <= 20):
        raise Invalid("building.floors_out_of_range", Msg("楼层数不合理（地上1–200，地下0–20）", "Floors out of range (above 1–200, below 0–20)"))
    _choice(b.structure, Structure, "structure")
    _year(b.built_year)
    _latlng(b.lat, b.lng)


_BUILDING_TAKEN = Conflict("building.number_taken", Msg("该小区已有此楼号", "This building number already exists in the estate"))


@transaction.atomic
def building_create(
    *,
    actor: Any,
    estate: Estate,
    region: Region,
    number: str,
    name: str = "",
    floors_above: int = 6,
    floors_below: int = 0,
    structure: str = Structure.BRICK_CONCRETE,
    built_year: int | None = None,
    has_elevator: bool = False,
    lat: float | None = None,
    lng: float | None = None,
) -> Building:
    estate = Estate.objects.select_related("region").get(pk=estate.pk)
    check_region_perm(actor=actor, region=estate.region, perm=Perm.PLACE_EDIT)
    _check_grid_in_estate(region, estate)
    b = Building(
        estate=estate, region=region, number=_name(number, "number", 20), name=(name or "").strip(), floors_above=floors_above,
        floors_below=floors_below, structure=structure, built_year=built_year, has_elevator=has_elevator, lat=lat, lng=lng,
    )
    _check_building_fields(b)
    _clean(b)
    _save(b, _BUILDING_TAKEN)
    record(actor=actor, action="building.create", obj=b, after=snapshot(b), region_path=region.path)
    return b


BUILDING_UPDATABLE = {"number", "name", "region", "floors_above", "floors_below", "structure", "built_year", "has_elevator", "lat", "lng"}


@transaction.atomic
def building_update(*, actor: Any, building: Building, **changes: Any) -> Building:
    """Update a building; moving it to another grid of the community re-syncs its houses' region."""
    _reject_unknown(changes, BUILDING_UPDATABLE)
    b = Building.objects.select_for_update(of=("self",)).select_related("estate__region", "region").get(pk=building.pk)
    check_region_perm(actor=actor, region=b.estate.region, perm=Perm.PLACE_EDIT)
    before = snapshot(b)
    old_region_id = b.region_id
    for field, value in changes.items():
        setattr(b, field, _name(value, "number", 20) if field == "number" else value)
    if b.region_id != old_region_id:
        _check_grid_in_estate(b.region, b.estate)
    _check_building_fields(b)
    lowest, highest = -int(b.floors_below), int(b.floors_above)
    if b.houses.exclude(floor__gte=lowest, floor__lte=highest).exists():
        raise Invalid("building.houses_outside_floors", Msg("已有房屋位于新楼层范围之外", "Existing houses lie outside the new floor range"))
    _clean(b)
    _save(b, _BUILDING_TAKEN)
    moved = 0
    if b.region_id != old_region_id:
        moved = House.objects.filter(building=b).update(region_id=b.region_id)
    record(
        actor=actor, action="building.update", obj=b, before=before, after=snapshot(b), region_path=b.region.path,
        detail={"houses_moved": moved} if moved else None,
    )
    return b


# ---- units (P2) ------------------------------------------------------------------------------------
@transaction.atomic
def unit_create(*, actor: Any, building: Building, number: str) -> Unit:
    building = Building.objects.select_related("region").get(pk=building.pk)
    check_region_perm(actor=actor, region=building.region, perm=Perm.PLACE_EDIT)
    unit = Unit(building=building, number=_name(number, "number", 20))
    _save(unit, Conflict("unit.number_taken", Msg("该楼栋已有此单元号", "This unit number already exists in the building")))
    record(actor=actor, action="unit.create", obj=unit, after=snapshot(unit), region_path=building.region.path)
    return unit


@transaction.atomic
def unit_update(*, actor: Any, unit: Unit, number: str) -> Unit:
    unit = Unit.objects.select_for_update(of=("self",)).select_related("building__region").get(pk=unit.pk)
    check_region_perm(actor=actor, region=unit.building.region, perm=Perm.PLACE_EDIT)
    before = snapshot(unit)
    unit.number = _name(number, "number", 20)
    _save(unit, Conflict("unit.number_taken", Msg("该楼栋已有此单元号", "This unit number already exists in the building")))
    record(actor=actor, action="unit.update", obj=unit, before=before, after=snapshot(unit), region_path=unit.building.region.path)
    return unit


# ---- houses (P2, GD 6.1.1) -------------------------------------------------------------------------
_HOUSE_TAKEN = Conflict("house.number_taken", Msg("该楼栋/单元已有此门牌号", "This house number already exists in the building/unit"))
MAX_HOUSE_AREA = Decimal("100000")


def _check_house(h: House, building: Building) -> None:
    if h.unit is not None and h.unit.building_id != building.pk:
        raise Invalid("house.unit_not_in_building", Msg("单元不属于该楼栋", "The unit is not in this building"))
    lowest, highest = -int(building.floors_below), int(building.floors_above)
    if h.floor is None or int(h.floor) == 0 or not (lowest <= int(h.floor) <= highest):
        raise Invalid(
            "house.floor_out_of_range", Msg("楼层须在{lo}到{hi}之间（不含0）", "Floor must be between {lo} and {hi} (not 0)"),
            lo=lowest or 1, hi=highest, detail={"min": lowest or 1, "max": highest},
        )
    h.floor_area_m2 = _decimal(h.floor_area_m2, "floor_area_m2", maximum=MAX_HOUSE_AREA)
    h.exclusive_area_m2 = _decimal(h.exclusive_area_m2, "exclusive_area_m2", maximum=MAX_HOUSE_AREA)
    if h.exclusive_area_m2 is not None and h.floor_area_m2 is not None and h.exclusive_area_m2 > h.floor_area_m2:
        raise Invalid("house.exclusive_area_too_large", Msg("专有面积不能大于建筑面积", "Exclusive area cannot exceed floor area"))
    _choice(h.property_type, PropertyType, "property_type")
    _choice(h.structure, Structure, "structure")
    _choice(h.use, HouseUse, "use")
    if not isinstance(h.photos, list) or not all(isinstance(p, str) and p for p in h.photos):
        raise Invalid("photos.invalid", Msg("房屋照片须为地址列表", "Photos must be a list of file paths or URLs"))


@transaction.atomic
def house_create(
    *,
    actor: Any,
    building: Building,
    number: str,
    floor: int,
    unit: Unit | None = None,
    address: str = "",
    property_type: str = PropertyType.COMMODITY,
    structure: str | None = None,
    layout: str = "",
    floor_area_m2: Any = None,
    exclusive_area_m2: Any = None,
    use: str = HouseUse.SELF_OCCUPIED,
    photos: list[str] | None = None,
) -> House:
    building = Building.objects.select_related("region", "estate").get(pk=building.pk)
    check_region_perm(actor=actor, region=building.region, perm=Perm.PLACE_EDIT)
    number = _name(number, "number", 20)
    if not address:
        address = f"{building.estate.address}{building.estate.name}{building.number}号楼{f'{unit.number}单元' if unit else ''}{number}室"
    h = House(
        building=building, unit=unit, region_id=building.region_id, number=number, floor=floor, address=_name(address, "address", 200),
        property_type=property_type, structure=structure or building.structure, layout=(layout or "").strip(),
        floor_area_m2=floor_area_m2, exclusive_area_m2=exclusive_area_m2, use=use, photos=list(photos or []),
    )
    _check_house(h, building)
    _clean(h)
    _save(h, _HOUSE_TAKEN)
    record(actor=actor, action="house.create", obj=h, after=snapshot(h), region_path=building.region.path)
    return h


HOUSE_UPDATABLE = {"number", "floor", "unit", "address", "property_type", "structure", "layout", "floor_area_m2", "exclusive_area_m2", "use", "photos"}


@transaction.atomic
def house_update(*, actor: Any, house: House, **changes: Any) -> House:
    _reject_unknown(changes, HOUSE_UPDATABLE)
    h = House.objects.select_for_update(of=("self",)).select_related("building__region", "unit").get(pk=house.pk)
    check_region_perm(actor=actor, region=h.building.region, perm=Perm.PLACE_EDIT)
    before = snapshot(h)
    for field, value in changes.items():
        if field in ("number", "address"):
            value = _name(value, field, 20 if field == "number" else 200)
        elif field == "photos":
            value = list(value or [])
        setattr(h, field, value)
    h.region_id = h.building.region_id
    _check_house(h, h.building)
    _clean(h)
    _save(h, _HOUSE_TAKEN)
    record(actor=actor, action="house.update", obj=h, before=before, after=snapshot(h), region_path=h.building.region.path)
    return h


# ---- facilities (P3) -------------------------------------------------------------------------------
def _check_facility(f: Facility) -> None:
    _choice(f.kind, FacilityKind, "kind")
    if f.capacity is None or int(f.capacity) < 0 or int(f.capacity) > 1_000_000:
        raise Invalid("capacity.out_of_range", Msg("服务容量须在0到1000000之间", "Capacity must be 0–1,000,000"))
    if not isinstance(f.serves, list) or not set(f.serves) <= set(SERVES):
        raise Invalid("serves.invalid", Msg("服务人群取值无效", "Invalid target groups"), detail={"allowed": list(SERVES)})
    _latlng(f.lat, f.lng)
    if f.estate is not None:
        ep, rp = f.estate.region.path, f.region.path
        if not (ep.startswith(rp) or rp.startswith(ep)):
            raise Invalid("facility.estate_outside_region", Msg("所选小区不在该区域内", "The estate is not in this region"))


@transaction.atomic
def facility_create(
    *,
    actor: Any,
    region: Region,
    kind: str,
    name: str,
    capacity: int,
    estate: Estate | None = None,
    address: str = "",
    serves: list[str] | None = None,
    opening_hours: str = "",
    phone: str = "",
    lat: float | None = None,
    lng: float | None = None,
) -> Facility:
    check_region_perm(actor=actor, region=region, perm=Perm.PLACE_EDIT)
    f = Facility(
        region=region, estate=estate, kind=kind, name=_name(name), capacity=capacity, address=(address or "").strip(),
        serves=list(serves or []), opening_hours=(opening_hours or "").strip(), phone=(phone or "").strip(), lat=lat, lng=lng,
    )
    _check_facility(f)
    _clean(f)
    f.save()
    record(actor=actor, action="facility.create", obj=f, after=snapshot(f), region_path=region.path)
    return f


FACILITY_UPDATABLE = {"kind", "name", "capacity", "estate", "address", "serves", "opening_hours", "phone", "lat", "lng"}


@transaction.atomic
def facility_update(*, actor: Any, facility: Facility, **changes: Any) -> Facility:
    _reject_unknown(changes, FACILITY_UPDATABLE)
    f = Facility.objects.select_for_update(of=("self",)).select_related("region", "estate__region").get(pk=facility.pk)
    check_region_perm(actor=actor, region=f.region, perm=Perm.PLACE_EDIT)
    before = snapshot(f)
    for field, value in changes.items():
        if field == "name":
            value = _name(value)
        elif field == "serves":
            value = list(value or [])
        setattr(f, field, value)
    _check_facility(f)
    _clean(f)
    f.save()
    record(actor=actor, action="facility.update", obj=f, before=before, after=snapshot(f), region_path=f.region.path)
    return f
