"""/api/v1/parking — lots, zones, spaces, billing rules, vehicles, passes, plate flags, alarms,
sessions, statistics (K3), guidance (K4), find my car (K5), payment before leaving (K2); and the
device side: POST /device/entry, /device/exit, /device/locate (lot cameras authenticate with their
lot token, matched in the in-memory index)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone
from ninja import Router, Status
from ninja.security import HttpBearer

from linli.core.errors import Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page
from linli.orgs.models import hash_token
from linli.people.models import Person
from linli.places.models import Estate, Region

from . import decision
from . import selectors as sel
from . import services as svc
from .schemas import (
    AlarmOut,
    CarLocationOut,
    CloseIn,
    DecisionOut,
    DisplayCreatedOut,
    DisplayIn,
    DisplayOut,
    EventHourOut,
    EventOut,
    FlagIn,
    FlagOut,
    GuidanceOut,
    HourStatOut,
    LocateIn,
    LotCreatedOut,
    LotIn,
    LotOut,
    LotPatch,
    PassIn,
    PassOut,
    PayIn,
    PlateIn,
    QuoteOut,
    RuleIn,
    RuleOut,
    RulePatch,
    SessionOut,
    SpaceIn,
    SpaceOut,
    VehicleIn,
    VehicleOut,
    ZoneIn,
    ZoneOut,
)


class LotAuth(HttpBearer):
    """A lot camera's bearer token, matched against the in-memory index (no query per call)."""

    openapi_scheme = "bearer"

    def authenticate(self, request, token: str):
        if not token or len(token) > 200:
            return None
        return decision.lot_for_token(hash_token(token))


lot_auth = LotAuth()
router = Router()


def _page(qs, cursor: str | None, limit: int | None, order: str = "-id") -> dict[str, Any]:
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, order=order)
    return {"items": rows, "next_cursor": next_cursor}


def _obj(model: type, pk: int | None, *related: str) -> Any:
    if pk is None:
        return None
    qs = model.objects.select_related(*related) if related else model.objects.all()
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def _range(since: dt.datetime | None, until: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    until = until or timezone.now()
    since = since or until - dt.timedelta(days=1)
    if until <= since or until - since > dt.timedelta(days=92):
        raise Invalid("parking.stats_range", Msg("统计区间须在92天以内", "The range must be positive and at most 92 days"))
    return since, until


def _decision(d: decision.Decision) -> dict[str, Any]:
    return {"allowed": d.allowed, "reason": d.reason, "amount_due_fen": d.amount_due_fen, "session_id": d.session_id}


# ---- billing rules, lots, zones, spaces (K1) -----------------------------------------------------------


@router.get("/rules", response={200: Page[RuleOut], **ERRORS}, summary="收费规则")
def list_rules(request, cursor: str | None = None, limit: int | None = None):
    return _page(sel.rule_list(actor=request.auth), cursor, limit)


@router.post("/rules", response={201: RuleOut, **ERRORS}, summary="新建收费规则")
def create_rule(request, payload: RuleIn):
    data = payload.dict()
    region = _obj(Region, data.pop("region_id"))
    return Status(201, svc.rule_create(actor=request.auth, region=region, name=data.pop("name"), **data))


@router.patch("/rules/{rule_id}", response={200: RuleOut, **ERRORS}, summary="修改收费规则")
def patch_rule(request, rule_id: int, payload: RulePatch):
    rule = sel.rule_get(actor=request.auth, rule_id=rule_id)
    changes = payload.dict(exclude_unset=True)
    for k in ("name", "free_minutes", "first_minutes", "first_fen", "step_minutes", "step_fen", "night_fen", "pass_holders_free",
              "visitor_paid_by_host"):
        if k in changes and changes[k] is None:
            raise Invalid("parking.rule_field_null", Msg("该字段不能为空", "This field cannot be null"), detail={"field": k})
    return svc.rule_update(actor=request.auth, rule=rule, **changes)


@router.get("/lots", response={200: Page[LotOut], **ERRORS}, summary="停车场列表")
def list_lots(request, estate_id: int | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.lot_list(actor=request.auth, estate_id=estate_id), cursor, limit)


@router.post("/lots", response={201: LotCreatedOut, **ERRORS}, summary="新建停车场（返回一次性相机令牌）")
def create_lot(request, payload: LotIn):
    rule = sel.rule_get(actor=request.auth, rule_id=payload.rule_id) if payload.rule_id else None
    lot, raw = svc.lot_create(actor=request.auth, code=payload.code, name=payload.name, capacity=payload.capacity,
                              estate=_obj(Estate, payload.estate_id, "region"), region=_obj(Region, payload.region_id), rule=rule,
                              overuse_policy=payload.overuse_policy, exit_grace_minutes=payload.exit_grace_minutes)
    lot.token = raw
    return Status(201, lot)


@router.get("/lots/{lot_id}", response={200: LotOut, **ERRORS}, summary="停车场详情")
def get_lot(request, lot_id: int):
    return sel.lot_get(actor=request.auth, lot_id=lot_id)


@router.patch("/lots/{lot_id}", response={200: LotOut, **ERRORS}, summary="修改停车场（收费规则、一卡多车策略…）")
def patch_lot(request, lot_id: int, payload: LotPatch):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    changes = payload.dict(exclude_unset=True)
    if "rule_id" in changes:
        rid = changes.pop("rule_id")
        changes["rule"] = sel.rule_get(actor=request.auth, rule_id=rid) if rid else None
    return svc.lot_update(actor=request.auth, lot=lot, **changes)


@router.get("/lots/{lot_id}/zones", response={200: Page[ZoneOut], **ERRORS}, summary="区域列表")
def list_zones(request, lot_id: int, cursor: str | None = None, limit: int | None = None):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    return _page(sel.zone_list(actor=request.auth, lot_id=lot.pk), cursor, limit)


@router.post("/lots/{lot_id}/zones", response={201: ZoneOut, **ERRORS}, summary="新建区域")
def create_zone(request, lot_id: int, payload: ZoneIn):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    return Status(201, svc.zone_create(actor=request.auth, lot=lot, code=payload.code, name=payload.name, capacity=payload.capacity))


@router.get("/lots/{lot_id}/spaces", response={200: Page[SpaceOut], **ERRORS}, summary="车位列表")
def list_spaces(request, lot_id: int, zone_id: int | None = None, kind: str | None = None, cursor: str | None = None,
                limit: int | None = None):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    return _page(sel.space_list(actor=request.auth, lot_id=lot.pk, zone_id=zone_id, kind=kind), cursor, limit)


@router.post("/lots/{lot_id}/spaces", response={201: SpaceOut, **ERRORS}, summary="新建车位")
def create_space(request, lot_id: int, payload: SpaceIn):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    zone = sel.zone_get(actor=request.auth, zone_id=payload.zone_id) if payload.zone_id else None
    return Status(201, svc.space_create(actor=request.auth, lot=lot, number=payload.number, kind=payload.kind, zone=zone,
                                        owner=_obj(Person, payload.owner_id, "region")))


# ---- vehicles, passes, flags, alarms -------------------------------------------------------------------


@router.get("/vehicles", response={200: Page[VehicleOut], **ERRORS}, summary="车辆列表")
def list_vehicles(request, owner_id: int | None = None, plate: str | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.vehicle_list(actor=request.auth, owner_id=owner_id, plate=plate), cursor, limit)


@router.post("/vehicles", response={201: VehicleOut, **ERRORS}, summary="登记车辆（工作人员为住户，或住户本人）")
def create_vehicle(request, payload: VehicleIn):
    owner_id = payload.owner_id or getattr(request.auth, "person_id", None)
    if owner_id is None:
        raise Invalid("parking.owner_required", Msg("请指定车主", "Name the owner"))
    owner = _obj(Person, owner_id, "region")
    return Status(201, svc.vehicle_register(actor=request.auth, owner=owner, plate=payload.plate, energy=payload.energy, note=payload.note))


@router.get("/my/vehicles", response={200: Page[VehicleOut], **ERRORS}, summary="我的车辆")
def my_vehicles(request, cursor: str | None = None, limit: int | None = None):
    return _page(sel.my_vehicles(request.auth), cursor, limit)


@router.get("/passes", response={200: Page[PassOut], **ERRORS}, summary="月卡列表")
def list_passes(request, lot_id: int | None = None, person_id: int | None = None, status: str | None = None,
                cursor: str | None = None, limit: int | None = None):
    return _page(sel.pass_list(actor=request.auth, lot_id=lot_id, person_id=person_id, status=status), cursor, limit)


@router.post("/passes", response={201: PassOut, **ERRORS}, summary="办理月卡/年卡/固定车位")
def create_pass(request, payload: PassIn):
    lot = sel.lot_get(actor=request.auth, lot_id=payload.lot_id)
    space = sel.space_get(actor=request.auth, space_id=payload.space_id) if payload.space_id else None
    return Status(201, svc.pass_create(actor=request.auth, lot=lot, person=_obj(Person, payload.person_id), kind=payload.kind,
                                       plates_=payload.plates, valid_from=payload.valid_from, valid_until=payload.valid_until,
                                       space=space, max_inside=payload.max_inside))


@router.post("/passes/{pass_id}/cancel", response={200: PassOut, **ERRORS}, summary="注销月卡")
def cancel_pass(request, pass_id: int):
    return svc.pass_cancel(actor=request.auth, parking_pass=sel.pass_get(actor=request.auth, pass_id=pass_id))


@router.get("/flags", response={200: Page[FlagOut], **ERRORS}, summary="布控车牌")
def list_flags(request, active: bool | None = True, cursor: str | None = None, limit: int | None = None):
    return _page(sel.flag_list(actor=request.auth, active=active), cursor, limit)


@router.post("/flags", response={201: FlagOut, **ERRORS}, summary="布控车牌（被盗/禁入/关注）")
def create_flag(request, payload: FlagIn):
    return Status(201, svc.flag_add(actor=request.auth, region=_obj(Region, payload.region_id), plate=payload.plate, kind=payload.kind,
                                    reason=payload.reason))


@router.delete("/flags/{flag_id}", response={200: FlagOut, **ERRORS}, summary="撤销布控")
def delete_flag(request, flag_id: int):
    return svc.flag_remove(actor=request.auth, flag=sel.flag_get(actor=request.auth, flag_id=flag_id))


@router.get("/alarms", response={200: Page[AlarmOut], **ERRORS}, summary="停车告警（布控命中、一卡多车）")
def list_alarms(request, open_only: bool = False, lot_id: int | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.alarm_list(actor=request.auth, open_only=open_only, lot_id=lot_id), cursor, limit)


@router.post("/alarms/{alarm_id}/acknowledge", response={200: AlarmOut, **ERRORS}, summary="确认告警")
def acknowledge_alarm(request, alarm_id: int):
    return svc.alarm_acknowledge(actor=request.auth, alarm=sel.alarm_get(actor=request.auth, alarm_id=alarm_id))


# ---- sessions, payment, statistics, guidance, find my car ----------------------------------------------


@router.get("/sessions", response={200: Page[SessionOut], **ERRORS}, summary="停车记录")
def list_sessions(request, lot_id: int | None = None, plate: str | None = None, status: str | None = None, inside: bool | None = None,
                  cursor: str | None = None, limit: int | None = None):
    return _page(sel.session_list(actor=request.auth, lot_id=lot_id, plate=plate, status=status, inside=inside), cursor, limit)


@router.get("/sessions/{session_id}", response={200: SessionOut, **ERRORS}, summary="停车记录详情")
def get_session(request, session_id: int):
    return sel.session_get(actor=request.auth, session_id=session_id)


@router.post("/sessions/{session_id}/pay", response={200: SessionOut, **ERRORS}, summary="岗亭收费")
def booth_pay(request, session_id: int, payload: PayIn):
    s = sel.session_get(actor=request.auth, session_id=session_id)
    return svc.pay(actor=request.auth, session=s, amount_fen=payload.amount_fen, method=payload.method)


@router.get("/my/quote", response={200: QuoteOut, **ERRORS}, summary="查询停车费（本人车辆或所邀访客）")
def my_quote(request, lot_id: int, plate: str):
    return svc.quote(session=sel.open_session_for_payer(actor=request.auth, lot_id=lot_id, plate=plate))


@router.post("/my/pay", response={200: SessionOut, **ERRORS}, summary="场内缴费，缴费后限时内无感离场")
def my_pay(request, lot_id: int, plate: str, payload: PayIn):
    s = sel.open_session_for_payer(actor=request.auth, lot_id=lot_id, plate=plate)
    return svc.pay(actor=request.auth, session=s, amount_fen=payload.amount_fen, method=payload.method)


@router.get("/find-car", response={200: CarLocationOut, **ERRORS}, summary="反向寻车（住户仅限本人车辆）")
def find_car(request, plate: str):
    s = sel.find_car(actor=request.auth, plate=plate)
    return {"plate": s.plate, "lot_id": s.lot_id, "lot_name": s.lot.name, "zone_code": s.zone.code if s.zone else None,
            "zone_name": s.zone.name if s.zone else None, "space_number": s.space.number if s.space else None, "entry_at": s.entry_at}


@router.get("/lots/{lot_id}/stats", response={200: list[HourStatOut], **ERRORS}, summary="逐小时进出与占用统计")
def lot_stats(request, lot_id: int, since: dt.datetime | None = None, until: dt.datetime | None = None):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    since, until = _range(since, until)
    return sel.stats_per_hour(actor=request.auth, lot=lot, since=since, until=until)


@router.get("/lots/{lot_id}/guidance", response={200: GuidanceOut, **ERRORS}, summary="实时余位（诱导屏）")
def guidance(request, lot_id: int):
    return sel.guidance(lot=sel.lot_get(actor=request.auth, lot_id=lot_id))


@router.get("/events", response={200: Page[EventOut], **ERRORS}, summary="车辆进出决策日志")
def list_events(request, lot_id: int | None = None, plate: str | None = None, direction: str | None = None, allowed: bool | None = None,
                cursor: str | None = None, limit: int | None = None):
    if direction not in (None, "", "entry", "exit"):
        raise Invalid("parking.direction_unknown", Msg("方向须为 entry 或 exit", "Direction must be entry or exit"))
    return _page(sel.event_list(actor=request.auth, lot_id=lot_id, plate=plate, direction=direction or None, allowed=allowed), cursor, limit)


@router.get("/lots/{lot_id}/event-stats", response={200: list[EventHourOut], **ERRORS}, summary="逐小时进出决策统计（放行/拒绝）")
def lot_event_stats(request, lot_id: int, since: dt.datetime | None = None, until: dt.datetime | None = None):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    since, until = _range(since, until)
    return sel.event_stats_per_hour(lot=lot, since=since, until=until)


@router.get("/lots/{lot_id}/displays", response={200: Page[DisplayOut], **ERRORS}, summary="诱导屏列表")
def list_displays(request, lot_id: int, cursor: str | None = None, limit: int | None = None):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    return _page(sel.display_list(actor=request.auth, lot_id=lot.pk), cursor, limit)


@router.post("/lots/{lot_id}/displays", response={201: DisplayCreatedOut, **ERRORS}, summary="新建诱导屏（返回一次性访问地址）")
def create_display(request, lot_id: int, payload: DisplayIn):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    d, raw = svc.display_create(actor=request.auth, lot=lot, name=payload.name)
    d.token, d.url = raw, request.build_absolute_uri(reverse("console:parking_wall", args=[raw]))
    return Status(201, d)


@router.post("/displays/{display_id}/revoke", response={200: DisplayOut, **ERRORS}, summary="撤销诱导屏（地址立即失效）")
def revoke_display(request, display_id: int):
    return svc.display_revoke(actor=request.auth, display=sel.display_get(actor=request.auth, display_id=display_id))


@router.post("/sessions/{session_id}/close", response={200: SessionOut, **ERRORS}, summary="岗亭：手工关闭停车记录")
def close_session(request, session_id: int, payload: CloseIn):
    return svc.session_close(actor=request.auth, session=sel.session_get(actor=request.auth, session_id=session_id), note=payload.note)


@router.post("/lots/{lot_id}/manual/{direction}", response={200: DecisionOut, **ERRORS}, summary="岗亭：手工录入车牌入场/出场")
def manual_pass(request, lot_id: int, direction: str, payload: PlateIn):
    if direction not in ("entry", "exit"):
        raise NotFound("parking.direction_unknown")
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    return _decision(svc.staff_pass(actor=request.auth, lot=lot, plate=payload.plate, direction=direction, at=payload.at))


# ---- the device side ----------------------------------------------------------------------------------


@router.post("/device/entry", auth=lot_auth, response={200: DecisionOut, **ERRORS}, summary="设备：车牌入场判定")
def device_entry(request, payload: PlateIn):
    return _decision(svc.plate_entry(lot=request.auth, plate=payload.plate, at=payload.at))


@router.post("/device/exit", auth=lot_auth, response={200: DecisionOut, **ERRORS}, summary="设备：车牌出场判定")
def device_exit(request, payload: PlateIn):
    return _decision(svc.plate_exit(lot=request.auth, plate=payload.plate, at=payload.at))


@router.post("/device/locate", auth=lot_auth, response={200: SessionOut, **ERRORS}, summary="设备：区域相机/车位检测上报位置")
def device_locate(request, payload: LocateIn):
    return svc.locate(lot=request.auth, plate=payload.plate, zone_code=payload.zone_code, space_number=payload.space_number)


@router.get("/device/guidance", auth=lot_auth, response={200: GuidanceOut, **ERRORS}, summary="设备：诱导屏余位")
def device_guidance(request):
    from .models import ParkingLot

    return sel.guidance(lot=ParkingLot.objects.get(pk=request.auth.id))


