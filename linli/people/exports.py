"""Exports of persons (H1, masked by default) and houses (P2) to CSV / XLSX, as background jobs.

Rows come from the scoped selectors, further limited to where the actor holds DATA_EXPORT. ID
numbers and phones are masked unless the job asked to reveal them, the actor holds PERSON_REVEAL
(rows limited to that scope too) and a purpose was stated; every export is audited with its purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch

from linli.audit.services import record
from linli.core import jobs
from linli.core.errors import Forbidden, Invalid
from linli.core.i18n import Msg
from linli.core.jobs import Column, JobKind
from linli.core.models import Job
from linli.core.pii import mask_id_number, mask_phone
from linli.orgs.perms import Perm
from linli.places import selectors as place_selectors

from .checks import has_perm_anywhere, in_scope
from .models import ETHNICITIES, Residency
from .presenters import display_name
from .selectors import person_search

_ETHNICITY = dict(ETHNICITIES)
CHUNK = 500


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"1", "true", "yes", "on"}


def check_export_params(actor: Any, params: dict[str, Any]) -> dict[str, Any]:
    fmt = str(params.get("format") or "csv").lower()
    if fmt not in jobs.FORMATS:
        raise Invalid("job.format", Msg("导出格式须为 csv 或 xlsx", "Export format must be csv or xlsx"), detail={"field": "format"})
    clean: dict[str, Any] = {"format": fmt}
    region_id = params.get("region_id")
    if region_id not in (None, ""):
        try:
            clean["region_id"] = int(region_id)
        except (TypeError, ValueError) as exc:
            raise Invalid("job.region_id", Msg("区域编号无效", "Invalid region id"), detail={"field": "region_id"}) from exc
    return clean


def check_person_export_params(actor: Any, params: dict[str, Any]) -> dict[str, Any]:
    clean = check_export_params(actor, params)
    if _truthy(params.get("reveal")):
        if not has_perm_anywhere(actor, Perm.PERSON_REVEAL):
            raise Forbidden("export.reveal_forbidden", Msg("无权导出完整证件号码和电话", "You may not export unmasked ID numbers and phones"))
        purpose = str(params.get("purpose") or "").strip()
        if len(purpose) < 2:
            raise Invalid("export.purpose_required", Msg("导出完整信息须填写用途", "State the purpose of an unmasked export"),
                          detail={"field": "purpose"})
        clean.update(reveal=True, purpose=purpose[:200])
    return clean


# ---- persons -------------------------------------------------------------------------------

PERSON_EXPORT_COLUMNS = [
    Column("id", "人员编号"), Column("name", "姓名"), Column("gender", "性别"), Column("birth_date", "出生日期"),
    Column("id_type", "证件类型"), Column("id_number", "证件号码"), Column("phone", "手机号"), Column("ethnicity", "民族"),
    Column("hukou_place", "户籍地"), Column("grid_code", "所属网格编码"), Column("grid", "所属网格"),
    Column("houses", "现住房屋"), Column("relations", "与房屋关系"),
]


def export_persons(job: Job) -> None:
    actor, params = job.actor, job.params
    reveal = bool(params.get("reveal"))
    qs = in_scope(person_search(actor=actor, region_id=params.get("region_id")), actor, Perm.DATA_EXPORT, "region")
    if reveal:
        qs = in_scope(qs, actor, Perm.PERSON_REVEAL, "region")
    current = Residency.objects.filter(move_out__isnull=True).select_related("house").order_by("move_in")
    qs = qs.prefetch_related(Prefetch("residencies", queryset=current, to_attr="current_residencies")).order_by("id")
    total = qs.count()
    record(actor=actor, action="person.export", kind="read", object_type="people.person", object_id=job.pk,
           detail={"job_id": job.pk, "rows": total, "revealed": reveal, "fields": ["id_number", "phone"] if reveal else [],
                   "purpose": params.get("purpose", ""), "region_id": params.get("region_id")})

    def rows() -> Iterator[dict[str, Any]]:
        for p in qs.iterator(chunk_size=CHUNK):
            res = p.current_residencies
            yield {
                "id": p.pk, "name": display_name(p, actor=actor), "gender": p.get_gender_display(),
                "birth_date": p.birth_date.isoformat() if p.birth_date else "", "id_type": p.get_id_type_display(),
                "id_number": p.id_number if reveal else mask_id_number(p.id_number),
                "phone": (p.phone if reveal else mask_phone(p.phone)) or "", "ethnicity": _ETHNICITY.get(p.ethnicity, ""),
                "hukou_place": p.hukou_place, "grid_code": p.region.code, "grid": p.region.name,
                "houses": "；".join(r.house.address for r in res), "relations": "；".join(r.get_relation_display() for r in res),
            }

    jobs.run_export(job, columns=PERSON_EXPORT_COLUMNS, total=total, rows=rows(), fmt=params.get("format", "csv"))


# ---- houses --------------------------------------------------------------------------------

HOUSE_EXPORT_COLUMNS = [
    Column("id", "房屋编号"), Column("estate_code", "小区编码"), Column("estate", "小区"), Column("building", "楼号"),
    Column("unit", "单元"), Column("room", "室号"), Column("floor", "楼层"), Column("address", "房屋地址"),
    Column("grid_code", "所属网格编码"), Column("grid", "所属网格"), Column("property_type", "房屋性质"),
    Column("structure", "房屋结构"), Column("layout", "户型"), Column("floor_area_m2", "建筑面积"),
    Column("exclusive_area_m2", "专有部分面积"), Column("use", "使用情况"),
]


def export_houses(job: Job) -> None:
    actor, params = job.actor, job.params
    qs = in_scope(place_selectors.house_list(actor=actor, region_id=params.get("region_id")), actor, Perm.DATA_EXPORT, "region")
    qs = qs.order_by("id")
    total = qs.count()
    record(actor=actor, action="house.export", kind="read", object_type="places.house", object_id=job.pk,
           detail={"job_id": job.pk, "rows": total, "region_id": params.get("region_id")})

    def rows() -> Iterator[dict[str, Any]]:
        for h in qs.iterator(chunk_size=CHUNK):
            yield {
                "id": h.pk, "estate_code": h.building.estate.code, "estate": h.building.estate.name, "building": h.building.number,
                "unit": h.unit.number if h.unit else "", "room": h.number, "floor": h.floor, "address": h.address,
                "grid_code": h.region.code, "grid": h.region.name, "property_type": h.get_property_type_display(),
                "structure": h.get_structure_display(), "layout": h.layout,
                "floor_area_m2": str(h.floor_area_m2 or ""), "exclusive_area_m2": str(h.exclusive_area_m2 or ""),
                "use": h.get_use_display(),
            }

    jobs.run_export(job, columns=HOUSE_EXPORT_COLUMNS, total=total, rows=rows(), fmt=params.get("format", "csv"))


jobs.register(JobKind(code="export.persons", label="人员导出", perm=Perm.DATA_EXPORT, queue="exports", run=export_persons,
                      check=check_person_export_params))
jobs.register(JobKind(code="export.houses", label="房屋导出", perm=Perm.DATA_EXPORT, queue="exports", run=export_houses,
                      check=check_export_params))
