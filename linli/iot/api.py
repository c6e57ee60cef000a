"""/api/v1/iot — device types, devices, telemetry, rules, alarms, notifications, HTTP ingest (D1–D6)."""

from __future__ import annotations

import datetime as dt
import json

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from linli.core.errors import DomainError, Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page
from linli.orgs.models import Organisation
from linli.places.models import Building, House, Region

from . import api_ngsi_ld, environment, rpc, selectors, services
from .ingest import InMessage, ingest_batch
from .models import DeviceType
from .perms import IotPerm
from .schemas import (
    AlarmActionIn,
    AlarmOut,
    CollectIn,
    CollectionListOut,
    CollectionOut,
    CommandIn,
    CommandOut,
    CredentialsOut,
    DeviceIn,
    DeviceOut,
    DevicePatch,
    DeviceTypeIn,
    DeviceTypeOut,
    DeviceTypePatch,
    EmissionStationOut,
    ImportOut,
    IngestOut,
    IngestStatOut,
    NotificationOut,
    ProvisionedOut,
    ReadingOut,
    RouteIn,
    RouteOut,
    RpcAnswerOut,
    RpcRequestOut,
    RuleIn,
    RuleOut,
    RulePatch,
    SeriesOut,
)

router = Router()


def _page(qs, cursor, limit, order="-id"):
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, order=order)
    return {"items": rows, "next_cursor": nxt}


def _creds(c: services.Credentials) -> CredentialsOut:
    return CredentialsOut(access_token=c.access_token, mqtt_username=c.mqtt_username, mqtt_password=c.mqtt_password)


def _get(model, pk, code):
    if pk is None:
        return None
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise NotFound(code)
    return obj


# ---- device types --------------------------------------------------------------------------------
class TypeFilter(Schema):
    q: str | None = None
    category: str | None = None
    cursor: str | None = None
    limit: int | None = None


@router.get("/device-types", response={200: Page[DeviceTypeOut], **ERRORS})
def device_types(request: HttpRequest, f: Query[TypeFilter]):
    return _page(selectors.device_type_list(q=f.q, category=f.category), f.cursor, f.limit, order="id")


@router.get("/device-types/{type_id}", response={200: DeviceTypeOut, **ERRORS})
def device_type_detail(request: HttpRequest, type_id: int):
    return selectors.device_type_get(device_type_id=type_id)


@router.post("/device-types", response={201: DeviceTypeOut, **ERRORS})
def device_type_create(request: HttpRequest, payload: DeviceTypeIn):
    return Status(201, services.device_type_create(actor=request.auth, **payload.dict()))


@router.patch("/device-types/{type_id}", response={200: DeviceTypeOut, **ERRORS})
def device_type_update(request: HttpRequest, type_id: int, payload: DeviceTypePatch):
    obj = selectors.device_type_get(device_type_id=type_id)
    return services.device_type_update(actor=request.auth, device_type=obj, changes=payload.dict(exclude_unset=True))


# ---- devices -------------------------------------------------------------------------------------
class DeviceFilter(Schema):
    region_id: int | None = None
    device_type: str | None = None
    status: str | None = None
    q: str | None = None
    house_id: int | None = None
    building_id: int | None = None
    cursor: str | None = None
    limit: int | None = None


@router.get("/devices", response={200: Page[DeviceOut], **ERRORS})
def devices(request: HttpRequest, f: Query[DeviceFilter]):
    qs = selectors.device_list(actor=request.auth, region_id=f.region_id, device_type=f.device_type, status=f.status, q=f.q,
                               house_id=f.house_id, building_id=f.building_id)
    return _page(qs, f.cursor, f.limit)


@router.post("/devices/import", response={200: ImportOut, **ERRORS})
def device_import(request: HttpRequest, file: File[UploadedFile]):
    if file.size > 2 * 1024 * 1024:
        raise Invalid("import.too_large", Msg("文件不能超过2MB", "The file must not exceed 2 MB"))
    out = services.device_import_csv(actor=request.auth, data=file.read())
    return {
        "created": [{"row": n, "device_id": d.pk, "serial": d.serial, "credentials": _creds(c)} for n, d, c in out.created],
        "errors": out.errors,
    }


@router.get("/devices/{device_id}", response={200: DeviceOut, **ERRORS})
def device_detail(request: HttpRequest, device_id: int):
    return selectors.device_get(actor=request.auth, device_id=device_id)


@router.post("/devices", response={201: ProvisionedOut, **ERRORS})
def device_create(request: HttpRequest, payload: DeviceIn):
    dtype = DeviceType.objects.filter(code=payload.device_type).first()
    if dtype is None:
        raise Invalid("device.unknown_type", Msg("未知设备类型", "Unknown device type"))
    gateway = selectors.device_get(actor=request.auth, device_id=payload.gateway_id, perm=IotPerm.DEVICE_EDIT) if payload.gateway_id else None
    device, creds = services.device_provision(
        actor=request.auth, serial=payload.serial, device_type=dtype, region=_get(Region, payload.region_id, "region.not_found"),
        building=_get(Building, payload.building_id, "building.not_found"), house=_get(House, payload.house_id, "house.not_found"),
        name=payload.name, vendor=payload.vendor, model=payload.model, lat=payload.lat, lng=payload.lng, location_note=payload.location_note,
        owner_org=_get(Organisation, payload.owner_org_id, "org.not_found"), gateway=gateway, status=payload.status,
    )
    device = selectors.device_get(actor=request.auth, device_id=device.pk, perm=IotPerm.DEVICE_EDIT)
    return Status(201, {"device": device, "credentials": _creds(creds)})


@router.patch("/devices/{device_id}", response={200: DeviceOut, **ERRORS})
def device_update(request: HttpRequest, device_id: int, payload: DevicePatch):
    device = selectors.device_get(actor=request.auth, device_id=device_id, perm=IotPerm.DEVICE_EDIT)
    services.device_update(actor=request.auth, device=device, changes=payload.dict(exclude_unset=True))
    return selectors.device_get(actor=request.auth, device_id=device_id)


@router.post("/devices/{device_id}/credentials", response={200: CredentialsOut, **ERRORS})
def device_reset_credentials(request: HttpRequest, device_id: int):
    device = selectors.device_get(actor=request.auth, device_id=device_id, perm=IotPerm.DEVICE_EDIT)
    return _creds(services.device_reset_credentials(actor=request.auth, device=device))


class HistoryFilter(Schema):
    key: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    cursor: str | None = None
    limit: int | None = None


@router.get("/devices/{device_id}/telemetry", response={200: Page[ReadingOut], **ERRORS})
def telemetry(request: HttpRequest, device_id: int, f: Query[HistoryFilter]):
    qs = selectors.telemetry_history(actor=request.auth, device_id=device_id, key=f.key, since=f.since, until=f.until)
    return _page(qs, f.cursor, f.limit, order="-ts")


class SeriesFilter(Schema):
    key: str
    start: dt.datetime | None = Field(None, alias="from", description="default: 24 h before `to`")
    end: dt.datetime | None = Field(None, alias="to", description="default: now")
    resolution: str = Field("auto", description="auto | raw | 5m | 1h | 1d (auto: ≤6 h raw, ≤3 d 5m, ≤31 d 1h, else 1d)")


@router.get("/devices/{device_id}/series", response={200: SeriesOut, **ERRORS})
def series(request: HttpRequest, device_id: int, f: Query[SeriesFilter]):
    """Chart data of one key: raw readings or rollups (mean/min/max/last/count), at most 2,000 points."""
    return selectors.device_series(actor=request.auth, device_id=device_id, key=f.key, start=f.start, end=f.end, resolution=f.resolution)


@router.get("/devices/{device_id}/latest", response={200: list[ReadingOut], **ERRORS})
def latest(request: HttpRequest, device_id: int):
    return selectors.latest_values(actor=request.auth, device_id=device_id)


# ---- rules ---------------------------------------------------------------------------------------
class RuleFilter(Schema):
    device_type: str | None = None
    device_id: int | None = None
    kind: str | None = None
    cursor: str | None = None
    limit: int | None = None


@router.get("/rules", response={200: Page[RuleOut], **ERRORS})
def rules(request: HttpRequest, f: Query[RuleFilter]):
    return _page(selectors.rule_list(actor=request.auth, device_type=f.device_type, device_id=f.device_id, kind=f.kind), f.cursor, f.limit)


@router.get("/rules/{rule_id}", response={200: RuleOut, **ERRORS})
def rule_detail(request: HttpRequest, rule_id: int):
    return selectors.rule_get(actor=request.auth, rule_id=rule_id)


@router.post("/rules", response={201: RuleOut, **ERRORS})
def rule_create(request: HttpRequest, payload: RuleIn):
    data = payload.dict()
    type_code, device_id = data.pop("device_type"), data.pop("device_id")
    dtype = DeviceType.objects.filter(code=type_code).first() if type_code else None
    if type_code and dtype is None:
        raise Invalid("device.unknown_type", Msg("未知设备类型", "Unknown device type"))
    device = selectors.device_get(actor=request.auth, device_id=device_id, perm=IotPerm.RULE_EDIT) if device_id else None
    return Status(201, services.rule_create(actor=request.auth, device_type=dtype, device=device, **data))


@router.patch("/rules/{rule_id}", response={200: RuleOut, **ERRORS})
def rule_update(request: HttpRequest, rule_id: int, payload: RulePatch):
    rule = selectors.rule_get(actor=request.auth, rule_id=rule_id)
    return services.rule_update(actor=request.auth, rule=rule, changes=payload.dict(exclude_unset=True))


@router.delete("/rules/{rule_id}", response={204: None, **ERRORS})
def rule_delete(request: HttpRequest, rule_id: int):
    services.rule_delete(actor=request.auth, rule=selectors.rule_get(actor=request.auth, rule_id=rule_id))
    return Status(204, None)


# ---- alarms and notifications --------------------------------------------------------------------
class AlarmFilter(Schema):
    status: str | None = None
    open: bool = False
    severity: str | None = None
    device_id: int | None = None
    region_id: int | None = None
    cursor: str | None = None
    limit: int | None = None


@router.get("/alarms", response={200: Page[AlarmOut], **ERRORS})
def alarms(request: HttpRequest, f: Query[AlarmFilter]):
    qs = selectors.alarm_list(actor=request.auth, status=f.status, open_only=f.open, severity=f.severity, device_id=f.device_id, region_id=f.region_id)
    return _page(qs, f.cursor, f.limit)


@router.get("/alarms/{alarm_id}", response={200: AlarmOut, **ERRORS})
def alarm_detail(request: HttpRequest, alarm_id: int):
    return selectors.alarm_get(actor=request.auth, alarm_id=alarm_id)


@router.post("/alarms/{alarm_id}/ack", response={200: AlarmOut, **ERRORS})
def alarm_ack(request: HttpRequest, alarm_id: int, payload: AlarmActionIn):
    alarm = selectors.alarm_get(actor=request.auth, alarm_id=alarm_id)
    services.alarm_acknowledge(actor=request.auth, alarm=alarm, note=payload.note)
    return selectors.alarm_get(actor=request.auth, alarm_id=alarm_id)


@router.post("/alarms/{alarm_id}/clear", response={200: AlarmOut, **ERRORS})
def alarm_clear(request: HttpRequest, alarm_id: int, payload: AlarmActionIn):
    alarm = selectors.alarm_get(actor=request.auth, alarm_id=alarm_id)
    services.alarm_clear(actor=request.auth, alarm=alarm, note=payload.note)
    return selectors.alarm_get(actor=request.auth, alarm_id=alarm_id)


class NotificationFilter(Schema):
    unread: bool = False
    cursor: str | None = None
    limit: int | None = None


@router.get("/notifications", response={200: Page[NotificationOut], **ERRORS})
def notifications(request: HttpRequest, f: Query[NotificationFilter]):
    return _page(selectors.notifications_for(actor=request.auth, unread=f.unread), f.cursor, f.limit)


@router.post("/notifications/{notification_id}/read", response={200: NotificationOut, **ERRORS})
def notification_read(request: HttpRequest, notification_id: int):
    services.notification_mark_read(actor=request.auth, notification_id=notification_id)
    return selectors.notifications_for(actor=request.auth).get(pk=notification_id)


# ---- environment: bins (V1) and emission stations (V2) -------------------------------------------
class BinFilter(Schema):
    region_id: int | None = None
    threshold: float = environment.DEFAULT_THRESHOLD
    order: str = Field("route", description="route (stop order) | fill (fullest first)")
    all: bool = Field(False, description="every bin, not only those needing collection")


@router.get("/bins/collection-list", response={200: CollectionListOut, **ERRORS})
def bin_collection_list(request: HttpRequest, f: Query[BinFilter]):
    """Bins needing collection (full, or predicted full by the next round), grouped by route."""
    now = timezone.now()
    groups = environment.collection_list(actor=request.auth, region_id=f.region_id, threshold=f.threshold, order=f.order, show_all=f.all, now=now)
    return {"threshold": f.threshold, "generated_at": now, "routes": [g.as_dict() for g in groups]}


@router.post("/bins/{device_id}/collect", response={201: CollectionOut, **ERRORS})
def bin_collect(request: HttpRequest, device_id: int, payload: CollectIn):
    device = selectors.device_get(actor=request.auth, device_id=device_id)
    return Status(201, environment.bin_collect(actor=request.auth, device=device, note=payload.note))


@router.get("/bins/{device_id}/collections", response={200: list[CollectionOut], **ERRORS})
def bin_collections(request: HttpRequest, device_id: int):
    return environment.collections_for(actor=request.auth, device_id=device_id)


def _route_out(route) -> dict:
    return {"id": route.pk, "region_id": route.region_id, "name": route.name, "round_times": route.round_times, "note": route.note,
            "device_ids": [s.device_id for s in sorted(route.stops.all(), key=lambda s: s.position)]}


@router.get("/collection-routes", response={200: list[RouteOut], **ERRORS})
def collection_routes(request: HttpRequest):
    return [_route_out(r) for r in environment.route_list(actor=request.auth).prefetch_related("stops").order_by("name")[:500]]


@router.post("/collection-routes", response={201: RouteOut, **ERRORS})
def collection_route_create(request: HttpRequest, payload: RouteIn):
    data = payload.dict()
    region = _get(Region, data.pop("region_id"), "region.not_found")
    return Status(201, _route_out(environment.route_save(actor=request.auth, region=region, **data)))


@router.put("/collection-routes/{route_id}", response={200: RouteOut, **ERRORS})
def collection_route_update(request: HttpRequest, route_id: int, payload: RouteIn):
    route = environment.route_get(actor=request.auth, route_id=route_id)
    data = payload.dict()
    region = _get(Region, data.pop("region_id"), "region.not_found")
    return _route_out(environment.route_save(actor=request.auth, region=region, route=route, **data))


class EmissionFilter(Schema):
    region_id: int | None = None
    days: int = 7


@router.get("/emission-stations", response={200: list[EmissionStationOut], **ERRORS})
def emission_stations(request: HttpRequest, f: Query[EmissionFilter]):
    """Transfer-station monitors: latest readings vs limits and hours over the limit per day (V2)."""
    out = environment.emission_stations(actor=request.auth, region_id=f.region_id, days=f.days)
    return [{"device_id": s["device"].pk, "serial": s["device"].serial, "name": str(s["device"]), "location": s["device"].location_note,
             "exceeded_now": s["exceeded_now"], "readings": s["readings"], "days": s["days"]} for s in out["stations"]]


# ---- HTTP ingest (device token in the path, ThingsBoard style) -----------------------------------
def _http_ingest(request: HttpRequest, token: str, kind: str):
    device = selectors.device_by_token(token=token)
    if device is None:
        raise DomainError("iot.bad_token", Msg("设备令牌无效", "Invalid device access token"), status=401)
    result = ingest_batch([InMessage(token, kind, request.body, by_token=True)], channel="http")
    if result.rejected:
        code = result.errors[0][1]
        status = 403 if code == "device.inactive" else 400
        raise DomainError(code, Msg("上报数据被拒绝：{reason}", "Payload rejected: {reason}"), status=status, reason=code)
    return {"stored": result.stored, "duplicates": result.duplicates}


@router.get("/ingest/stats", response={200: list[IngestStatOut], **ERRORS}, summary="接入统计（按日、通道）")
def ingest_stats(request: HttpRequest, day_from: dt.date | None = None, day_to: dt.date | None = None):
    """Messages received, rows stored, duplicate rows ignored and messages rejected per day and channel
    (mqtt / http), at most 93 days (default: the last 7)."""
    today = timezone.localdate()
    day_to = day_to or today
    return selectors.ingest_stats(actor=request.auth, day_from=day_from or day_to - dt.timedelta(days=6), day_to=day_to)


@router.post("/http/{token}/telemetry", auth=None, response={200: IngestOut, **ERRORS})
def http_telemetry(request: HttpRequest, token: str):
    return _http_ingest(request, token, "telemetry")


@router.post("/http/{token}/attributes", auth=None, response={200: IngestOut, **ERRORS})
def http_attributes(request: HttpRequest, token: str):
    return _http_ingest(request, token, "attributes")



# ---- NGSI-LD export (D7): served at /api/v1/ngsi-ld/v1/… (linli/iot/api_ngsi_ld.py); this older path
# /api/v1/iot/ngsi-ld/v1/… stays as an alias (same views, hidden from the schema).
api_ngsi_ld.mount_alias(router)


# ---- commands (D5) -------------------------------------------------------------------------------
class CommandFilter(Schema):
    status: str | None = None
    cursor: str | None = None
    limit: int | None = None


@router.post("/devices/{device_id}/commands", response={201: CommandOut, **ERRORS})
def command_create(request: HttpRequest, device_id: int, payload: CommandIn):
    device = selectors.device_get(actor=request.auth, device_id=device_id, perm=IotPerm.COMMAND_SEND)
    cmd = services.command_send(actor=request.auth, device=device, method=payload.method, params=payload.params, timeout_s=payload.timeout_s)
    return Status(201, rpc.command_get(actor=request.auth, command_id=cmd.pk))


@router.get("/devices/{device_id}/commands", response={200: Page[CommandOut], **ERRORS})
def commands(request: HttpRequest, device_id: int, f: Query[CommandFilter]):
    selectors.device_get(actor=request.auth, device_id=device_id)
    return _page(rpc.command_list(actor=request.auth, device_id=device_id, status=f.status), f.cursor, f.limit)


@router.get("/commands/{command_id}", response={200: CommandOut, **ERRORS})
def command_detail(request: HttpRequest, command_id: int):
    return rpc.command_get(actor=request.auth, command_id=command_id)


def _device_for_token(token: str):
    device = selectors.device_by_token(token=token)
    if device is None:
        raise DomainError("iot.bad_token", Msg("设备令牌无效", "Invalid device access token"), status=401)
    return device


@router.get("/http/{token}/rpc", auth=None, response={200: RpcRequestOut, 204: None, **ERRORS})
def http_rpc_poll(request: HttpRequest, token: str):
    cmd = services.command_next_for_http(device=_device_for_token(token))
    return cmd if cmd is not None else Status(204, None)


@router.post("/http/{token}/rpc/{rpc_id}", auth=None, response={200: RpcAnswerOut, **ERRORS})
def http_rpc_respond(request: HttpRequest, token: str, rpc_id: int):
    device = _device_for_token(token)
    try:
        body = json.loads(request.body) if request.body else {}
    except (ValueError, UnicodeDecodeError):
        raise Invalid("payload.not_json", Msg("应答不是有效的JSON", "The response is not valid JSON")) from None
    cmd = services.command_respond(device=device, rpc_id=rpc_id, payload=body)
    if cmd is None:
        raise NotFound("command.not_found")
    return cmd
