"""/api/v1/parking/charging — K7 EV charging: tariffs and chargers (parking.manage), chargers with
live status and their sessions (parking.view); residents find chargers near home, book a slot, start
and stop a charge (sent to the pile as iot commands; an offline pile answers 409) and pay."""

from __future__ import annotations

from ninja import Router, Status

from linli.core.errors import NotFound
from linli.core.schemas import ERRORS, Page
from linli.iot.models import Device
from linli.places.models import Region

from . import charging as ch
from . import selectors as sel
from .api import _page as page
from .models import ChargingTariff
from .schemas import PayIn
from .schemas_sharing import (
    ChargerIn,
    ChargerOut,
    ChargerStateOut,
    ChargingOut,
    SlotIn,
    SlotOut,
    TariffIn,
    TariffOut,
)

router = Router()


def _with_state(chargers: list) -> list:
    states = ch.charger_states(chargers)
    for c in chargers:
        for k, v in states[c.pk].items():
            setattr(c, k, v)
    return chargers


@router.get("/tariffs", response={200: Page[TariffOut], **ERRORS}, summary="充电资费")
def list_tariffs(request, cursor: str | None = None, limit: int | None = None):
    from .perms import ParkingPerm as P

    return page(ChargingTariff.objects.for_actor(request.auth, P.VIEW), cursor, limit)


@router.post("/tariffs", response={201: TariffOut, **ERRORS}, summary="新建充电资费（分时电价+服务费+占位费）")
def create_tariff(request, payload: TariffIn):
    region = Region.objects.filter(pk=payload.region_id).first()
    if region is None:
        raise NotFound("parking.region_not_found")
    data = payload.dict(by_alias=True)
    data.pop("region_id")
    return Status(201, ch.tariff_create(actor=request.auth, region=region, **data))


@router.get("/chargers", response={200: Page[ChargerStateOut], **ERRORS}, summary="充电桩列表与状态（工作人员）")
def list_chargers(request, lot_id: int | None = None, cursor: str | None = None, limit: int | None = None):
    p = page(ch.charger_list(actor=request.auth, lot_id=lot_id), cursor, limit)
    return {"items": _with_state(p["items"]), "next_cursor": p["next_cursor"]}


@router.post("/chargers", response={201: ChargerOut, **ERRORS}, summary="登记充电桩（设备类型 ev_charger，绑定车位与资费）")
def register_charger(request, payload: ChargerIn):
    space = sel.space_get(actor=request.auth, space_id=payload.space_id)
    device = Device.objects.filter(pk=payload.device_id).first()
    tariff = ChargingTariff.objects.filter(pk=payload.tariff_id).first()
    if device is None or tariff is None:
        raise NotFound("charging.device_or_tariff_not_found")
    c = ch.charger_register(actor=request.auth, device=device, space=space, tariff=tariff, name=payload.name, max_power_kw=payload.max_power_kw)
    return Status(201, ch.charger_get(actor=request.auth, charger_id=c.pk))


@router.get("/chargers/near", response={200: list[ChargerStateOut], **ERRORS}, summary="我家附近的充电桩")
def chargers_near(request):
    return _with_state(list(ch.chargers_near(request.auth).order_by("lot_id", "name")[:200]))


@router.post("/chargers/{charger_id}/start", response={201: ChargingOut, **ERRORS}, summary="开始充电（下发 startCharging 指令）")
def start_charging(request, charger_id: int):
    s = ch.start(actor=request.auth, charger=ch.charger_for_resident(actor=request.auth, charger_id=charger_id))
    return Status(201, s)


@router.get("/bookings", response={200: Page[SlotOut], **ERRORS}, summary="充电预约（工作人员）")
def list_slots(request, charger_id: int | None = None, cursor: str | None = None, limit: int | None = None):
    return page(ch.booking_list(actor=request.auth, charger_id=charger_id), cursor, limit)


@router.get("/my/bookings", response={200: Page[SlotOut], **ERRORS}, summary="我的充电预约")
def my_slots(request, cursor: str | None = None, limit: int | None = None):
    return page(ch.my_bookings(request.auth), cursor, limit)


@router.post("/bookings", response={201: SlotOut, **ERRORS}, summary="预约充电时段（重叠返回409）")
def book_slot(request, payload: SlotIn):
    c = ch.charger_for_resident(actor=request.auth, charger_id=payload.charger_id)
    return Status(201, ch.booking_create(actor=request.auth, charger=c, plate=payload.plate, start_at=payload.start_at, end_at=payload.end_at))


@router.post("/bookings/{booking_id}/cancel", response={200: SlotOut, **ERRORS}, summary="取消充电预约")
def cancel_slot(request, booking_id: int):
    return ch.booking_cancel(actor=request.auth, booking=ch.booking_get(actor=request.auth, booking_id=booking_id))


@router.get("/sessions", response={200: Page[ChargingOut], **ERRORS}, summary="充电记录（工作人员）")
def list_sessions(request, charger_id: int | None = None, status: str | None = None, cursor: str | None = None, limit: int | None = None):
    return page(ch.session_list(actor=request.auth, charger_id=charger_id, status=status), cursor, limit)


@router.get("/my/sessions", response={200: Page[ChargingOut], **ERRORS}, summary="我的充电记录")
def my_sessions(request, cursor: str | None = None, limit: int | None = None):
    return page(ch.my_sessions(request.auth), cursor, limit)


@router.get("/sessions/{session_id}", response={200: ChargingOut, **ERRORS}, summary="充电记录详情")
def get_session(request, session_id: int):
    return ch.session_get(actor=request.auth, session_id=session_id)


@router.post("/sessions/{session_id}/stop", response={200: ChargingOut, **ERRORS}, summary="结束充电并计费（下发 stopCharging 指令）")
def stop_charging(request, session_id: int):
    return ch.stop(actor=request.auth, session=ch.session_get(actor=request.auth, session_id=session_id))


@router.post("/sessions/{session_id}/pay", response={200: ChargingOut, **ERRORS}, summary="支付充电费用")
def pay_charging(request, session_id: int, payload: PayIn):
    return ch.pay(actor=request.auth, session=ch.session_get(actor=request.auth, session_id=session_id), amount_fen=payload.amount_fen,
                  method=payload.method)
