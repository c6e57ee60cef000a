"""CSV / Excel imports of persons (H1, with residency H2) and houses (P2), as background jobs.

Each row is parsed here and written through the same services as the API (``person_create``,
``residency_move_in``, ``house_create`` …), so validation, scope and audit are identical. The
actor also needs DATA_IMPORT over the row's grid. A bad row becomes a row error; it never stops the
import (mechanics in ``linli.core.jobs``). Headers are Chinese, with English aliases.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from linli.core import jobs
from linli.core.i18n import Msg
from linli.core.jobs import Column, ImportSpec, JobKind, RowError
from linli.core.validators import IdType
from linli.orgs.perms import Perm
from linli.places import selectors as place_selectors
from linli.places import services as place_services
from linli.places.models import House, Level, PropertyType, Region, Structure

from . import services
from .checks import has_perm_at, in_scope
from .models import ETHNICITIES, Gender, Relation

# ---- value parsers ---------------------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text or "").lower()


def choice_lookup(choices: list[tuple[str, str]], extra: dict[str, str] | None = None) -> dict[str, str]:
    table = {}
    for code, label in choices:
        table[_key(code)] = code
        table[_key(str(label))] = code
    for alias, code in (extra or {}).items():
        table[_key(alias)] = code
    return table


ID_TYPES = choice_lookup(IdType.CHOICES, {"身份证": IdType.RESIDENT_ID, "居民身份证号": IdType.RESIDENT_ID, "港澳通行证": IdType.HK_MACAO_PERMIT,
                                          "港澳居民居住证": IdType.HK_MACAO_PERMIT, "台胞证": IdType.TAIWAN_PERMIT,
                                          "台湾通行证": IdType.TAIWAN_PERMIT, "外国人永久居留证": IdType.FOREIGN_PERMANENT})
GENDERS = choice_lookup(Gender.choices, {"男性": "M", "女性": "F", "male": "M", "female": "F"})
ETHNICITY = choice_lookup(ETHNICITIES, {label[:-1]: code for code, label in ETHNICITIES if label.endswith("族") and len(label) >= 2}
                          | {str(int(code)): code for code, _ in ETHNICITIES})
RELATIONS = choice_lookup(Relation.choices, {"房主": "owner", "产权人": "owner", "户主": "owner", "家属": "family_member",
                                             "承租人": "tenant", "租客": "tenant", "家人": "family_member"})
PROPERTY_TYPES = choice_lookup(PropertyType.choices)
STRUCTURES = choice_lookup(Structure.choices, {"框架": "frame", "剪力墙": "shear_wall", "砖混": "brick_concrete", "钢": "steel", "砖木": "brick_wood"})

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S")


class RowParser:
    """Collects every problem of a row, then raises them together."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.problems: list[tuple[str, str, Msg | str]] = []

    def get(self, key: str) -> str:
        return (self.values.get(key) or "").strip()

    def fail(self, key: str, code: str, msg: Msg) -> None:
        self.problems.append((key, code, msg))

    def required(self, key: str, title: str) -> str:
        value = self.get(key)
        if not value:
            self.fail(key, "row.required", Msg(f"“{title}”不能为空", f"“{title}” is required"))
        return value

    def choice(self, key: str, table: dict[str, str], default: str | None = None) -> str | None:
        raw = self.get(key)
        if not raw:
            return default
        code = table.get(_key(raw))
        if code is None:
            self.fail(key, "row.choice", Msg(f"无法识别的取值：{raw}", f"Unknown value: {raw}"))
        return code

    def date(self, key: str) -> dt.date | None:
        raw = self.get(key)
        if not raw:
            return None
        for fmt in DATE_FORMATS:
            try:
                return dt.datetime.strptime(raw, fmt).date()
            except ValueError:
                continue
        self.fail(key, "row.date", Msg(f"日期格式错误：{raw}（应为 2024-01-31）", f"Bad date: {raw} (use 2024-01-31)"))
        return None

    def decimal(self, key: str) -> Decimal | None:
        raw = self.get(key)
        if not raw:
            return None
        try:
            value = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            value = Decimal(-1)
        if not value.is_finite() or value <= 0:
            self.fail(key, "row.number", Msg(f"数值无效：{raw}", f"Not a positive number: {raw}"))
            return None
        return value.quantize(Decimal("0.01"))

    def integer(self, key: str) -> int | None:
        raw = self.get(key)
        if not raw:
            return None
        if not re.fullmatch(r"-?\d{1,3}", raw):
            self.fail(key, "row.integer", Msg(f"应为整数：{raw}", f"Not a whole number: {raw}"))
            return None
        return int(raw)

    def done(self) -> None:
        if self.problems:
            raise RowError(self.problems)


def grid_for_import(actor: Any, code: str, *, key: str = "grid_code") -> Region:
    """The community/grid with ``code`` where the actor holds DATA_IMPORT; a row error otherwise."""
    region = Region.objects.filter(code=code.strip()).first()
    if region is None:
        raise RowError.one(key, "region.unknown", Msg(f"网格编码不存在：{code}", f"Unknown grid code: {code}"))
    check_import_scope(actor, region, key=key)
    return region


def check_import_scope(actor: Any, region: Region, *, key: str) -> None:
    if not has_perm_at(actor, Perm.DATA_IMPORT, region.path):
        raise RowError.one(key, "region.out_of_scope", Msg(f"“{region.name}”不在您的导入权限范围内",
                                                              f"“{region.name}” is outside your import scope"))


def find_house(actor: Any, p: RowParser) -> House | None:
    """The house a row points to: 房屋编号 (id), or 小区编码 + 楼号 + 单元 + 室号. None when not given."""
    house_id, estate, building, unit, room = (p.get(k) for k in ("house_id", "estate_code", "building", "unit", "room"))
    visible = in_scope(House.objects.select_related("region"), actor, Perm.PERSON_VIEW, "region")
    if house_id:
        if not house_id.isdigit():
            raise RowError.one("house_id", "row.integer", Msg(f"房屋编号应为数字：{house_id}", f"House id must be a number: {house_id}"))
        house = visible.filter(pk=int(house_id)).first()
        key = "house_id"
    elif estate or building or room:
        missing = [k for k, v in (("estate_code", estate), ("building", building), ("room", room)) if not v]
        if missing:
            raise RowError([(k, "row.required", Msg("指定房屋需同时填写小区编码、楼号、室号", "Give estate code, building and room"))
                            for k in missing])
        qs = visible.filter(building__estate__code=estate, building__number=building, number=room)
        qs = qs.filter(unit__number=unit) if unit else qs.filter(unit__isnull=True)
        house = qs.first()
        key = "room"
    else:
        return None
    if house is None:
        raise RowError.one(key, "house.not_found", Msg("找不到该房屋（或不在您的管辖范围内）", "House not found or outside your scope"))
    check_import_scope(actor, house.region, key=key)
    return house


# ---- persons -------------------------------------------------------------------------------

PERSON_COLUMNS = (
    Column("name", "姓名", ("name", "full_name"), required=True),
    Column("id_type", "证件类型", ("id_type",), help="居民身份证（默认）、护照、港澳居民来往内地通行证、台湾居民来往大陆通行证、外国人永久居留身份证"),
    Column("id_number", "证件号码", ("id_number", "身份证号", "身份证号码"), required=True, help="居民身份证须符合 GB 11643 校验位"),
    Column("gender", "性别", ("gender", "sex"), help="男/女；居民身份证可不填，由证件号推出"),
    Column("phone", "手机号", ("phone", "mobile", "手机", "联系电话", "电话")),
    Column("ethnicity", "民族", ("ethnicity", "nation"), help="如 汉族 或代码 01，默认汉族"),
    Column("hukou_place", "户籍地", ("hukou_place", "户籍地址", "household_registration")),
    Column("occupation", "职业", ("occupation",)),
    Column("grid_code", "所属网格编码", ("grid_code", "region_code", "网格编码"), help="不填时取所住房屋的网格"),
    Column("house_id", "房屋编号", ("house_id", "房屋ID"), help="与“小区编码+楼号+单元+室号”二选一"),
    Column("estate_code", "小区编码", ("estate_code",)),
    Column("building", "楼号", ("building", "building_number", "楼栋号")),
    Column("unit", "单元", ("unit", "unit_number", "单元号")),
    Column("room", "室号", ("room", "house_number", "门牌号", "房号")),
    Column("relation", "与房屋关系", ("relation", "居住关系"), help="业主、家庭成员、租户、其他"),
    Column("move_in", "入住日期", ("move_in", "move_in_date"), help="如 2024-01-31；不填为今天"),
    Column("note", "备注", ("note",)),
)


def import_person_row(actor: Any, values: dict[str, str]) -> None:
    p = RowParser(values)
    name = p.required("name", "姓名")
    id_number = p.required("id_number", "证件号码")
    id_type = p.choice("id_type", ID_TYPES, IdType.RESIDENT_ID)
    gender = p.choice("gender", GENDERS)
    ethnicity = p.choice("ethnicity", ETHNICITY, "01")
    relation = p.choice("relation", RELATIONS)
    move_in = p.date("move_in")
    p.done()
    house = find_house(actor, p)
    grid_code = p.get("grid_code")
    if grid_code:
        region = grid_for_import(actor, grid_code)
    elif house is not None:
        region = house.region
    else:
        raise RowError.one("grid_code", "row.required", Msg("请填写所属网格编码或房屋", "Give a grid code or a house"))
    if region.level not in (Level.COMMUNITY, Level.GRID):
        raise RowError.one("grid_code", "person.region_level", Msg("人员须归属社区或网格", "A person must belong to a community or grid"))
    if house is None and (relation or move_in):
        raise RowError.one("room", "row.required", Msg("填写了居住关系但未指定房屋", "A relation was given without a house"))
    person = services.person_create(
        actor=actor, name=name, id_type=id_type or IdType.RESIDENT_ID, id_number=id_number, region=region,
        phone=p.get("phone"), gender=gender, ethnicity=ethnicity or "01", hukou_place=p.get("hukou_place")[:200],
        occupation=p.get("occupation")[:60], note=p.get("note")[:300],
    )
    if house is not None:
        services.residency_move_in(actor=actor, person=person, house=house, relation=relation or Relation.OWNER,
                                   move_in=move_in or timezone.localdate())


PERSON_IMPORT = ImportSpec(
    columns=PERSON_COLUMNS,
    handle=import_person_row,
    error_columns={
        "person.id_number": "id_number", "person.duplicate_id_number": "id_number", "person.birth_date": "id_number",
        "person.gender": "gender", "person.id_type": "id_type", "person.phone": "phone", "person.name": "name",
        "person.ethnicity": "ethnicity", "person.region": "grid_code", "person.edit_forbidden": "grid_code",
        "not_found": "grid_code", "residency.relation": "relation", "residency.move_in": "move_in",
        "residency.already_current": "room", "household.edit_forbidden": "room",
        "name": "name", "hukou_place": "hukou_place", "occupation": "occupation", "note": "note",
    },
)

jobs.register(JobKind(code="import.persons", label="人员导入", perm=Perm.DATA_IMPORT, queue="imports",
                      run=lambda job: jobs.run_import(job, PERSON_IMPORT), import_spec=PERSON_IMPORT))


# ---- houses (P2) ---------------------------------------------------------------------------

HOUSE_COLUMNS = (
    Column("estate_code", "小区编码", ("estate_code",), required=True, help="小区须已登记"),
    Column("building", "楼号", ("building", "building_number", "楼栋号"), required=True),
    Column("unit", "单元", ("unit", "unit_number", "单元号"), help="不分单元的楼栋可不填"),
    Column("room", "室号", ("room", "house_number", "number", "门牌号", "房号"), required=True),
    Column("floor", "楼层", ("floor",), required=True, help="地下层为负数"),
    Column("grid_code", "所属网格编码", ("grid_code", "region_code", "网格编码"), help="新楼栋必填；楼栋已存在时可不填"),
    Column("floors_above", "地上层数", ("floors_above",), help="新楼栋用，默认不少于所填楼层"),
    Column("address", "房屋地址", ("address", "地址"), help="不填时按小区、楼号、单元、室号生成"),
    Column("property_type", "房屋性质", ("property_type",), help="商品房、保障性住房、安置房、公租房、自建房、商业用房、其他"),
    Column("structure", "房屋结构", ("structure",), help="框架结构、剪力墙结构、砖混结构、钢结构、砖木结构、其他"),
    Column("layout", "户型", ("layout",), help="如 3室2厅1卫"),
    Column("floor_area_m2", "建筑面积", ("floor_area_m2", "建筑面积(㎡)", "floor_area")),
    Column("exclusive_area_m2", "专有部分面积", ("exclusive_area_m2", "专有部分面积(㎡)", "exclusive_area")),
)


def import_house_row(actor: Any, values: dict[str, str]) -> None:
    p = RowParser(values)
    estate_code = p.required("estate_code", "小区编码")
    number = p.required("building", "楼号")
    room = p.required("room", "室号")
    p.required("floor", "楼层")
    floor = p.integer("floor")
    floors_above = p.integer("floors_above")
    property_type = p.choice("property_type", PROPERTY_TYPES, PropertyType.COMMODITY)
    structure = p.choice("structure", STRUCTURES)
    floor_area = p.decimal("floor_area_m2")
    exclusive_area = p.decimal("exclusive_area_m2")
    p.done()
    estate = place_selectors.estate_list(actor=actor).filter(code=estate_code).first()
    if estate is None:
        raise RowError.one("estate_code", "estate.not_found", Msg(f"小区编码不存在或不在您的管辖范围内：{estate_code}",
                                                                  f"Unknown estate code or outside your scope: {estate_code}"))
    building = place_selectors.building_list(actor=actor, estate_id=estate.pk).filter(number=number).first()
    if building is None:
        grid_code = p.get("grid_code")
        if not grid_code:
            raise RowError.one("grid_code", "row.required", Msg("新楼栋须填写所属网格编码", "A new building needs a grid code"))
        grid = grid_for_import(actor, grid_code)
        building = place_services.building_create(actor=actor, estate=estate, region=grid, number=number,
                                                  floors_above=max(floors_above or 6, floor or 1))
    check_import_scope(actor, building.region, key="building")
    unit = None
    if p.get("unit"):
        unit = place_selectors.unit_list(actor=actor, building_id=building.pk).filter(number=p.get("unit")).first()
        unit = unit or place_services.unit_create(actor=actor, building=building, number=p.get("unit"))
    place_services.house_create(
        actor=actor, building=building, unit=unit, number=room, floor=floor, address=p.get("address"),
        property_type=property_type or PropertyType.COMMODITY, structure=structure, layout=p.get("layout")[:30],
        floor_area_m2=floor_area, exclusive_area_m2=exclusive_area,
    )


HOUSE_IMPORT = ImportSpec(
    columns=HOUSE_COLUMNS,
    handle=import_house_row,
    error_columns={
        "house.number_taken": "room", "house.floor": "floor", "house.exclusive_area": "exclusive_area_m2", "house.unit": "unit",
        "unit.": "unit", "building.grid": "grid_code", "building.floors": "floors_above", "building.number": "building",
        "permission.denied": "building", "not_found": "building",
        "number": "room", "floor": "floor", "address": "address", "property_type": "property_type", "structure": "structure",
        "layout": "layout", "floor_area_m2": "floor_area_m2", "exclusive_area_m2": "exclusive_area_m2",
    },
)

jobs.register(JobKind(code="import.houses", label="房屋导入", perm=Perm.DATA_IMPORT, queue="imports",
                      run=lambda job: jobs.run_import(job, HOUSE_IMPORT), import_spec=HOUSE_IMPORT))
