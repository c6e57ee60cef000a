"""/api/v1/parking/sharing — K6 shared private spaces: residents publish idle windows of their own
space, search and book free windows near home, pay, cancel, see their earnings; staff list windows
and bookings per lot (parking.view), set a lot's settlement terms and see the settlement per owner
(parking.manage)."""

from __future__ import annotations

import datetime as dt

from ninja import Router, Status

from linli.core.errors import Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.schemas import ERRORS, Page

from . import selectors as sel
from . import sharing as sh
from .api import _page as page
from .schemas import PayIn
from .schemas_sharing import (
    BookingIn,
    BookingOut,
    EarningsOut,
    LedgerOut,
    SettlementOut,
    TermsIn,
    TermsOut,
    WindowIn,
    WindowOut,
)

router = Router()


def check_range(start_at: dt.datetime, end_at: dt.datetime, max_days: int = 31) -> None:
    if end_at <= start_at or end_at - start_at > dt.timedelta(days=max_days):
        raise Invalid("sharing.range", Msg("结束须晚于开始，且不超过{n}天", "The end must follow the start, at most {n} days later"), n=max_days)


@router.get("/windows", response={200: Page[WindowOut], **ERRORS}, summary="共享时段（工作人员，按停车场）")
def list_windows(request, lot_id: int | None = None, status: str | None = None, cursor: str | None = None, limit: int | None = None):
    return page(sh.window_list(actor=request.auth, lot_id=lot_id, status=status), cursor, limit)


@router.get("/windows/search", response={200: list[WindowOut], **ERRORS}, summary="找车位：我家附近在该时间段空闲的共享车位")
def search_windows(request, start_at: dt.datetime, end_at: dt.datetime):
    check_range(start_at, end_at)
    return sh.open_windows(actor=request.auth, start_at=start_at, end_at=end_at)


@router.get("/my/windows", response={200: Page[WindowOut], **ERRORS}, summary="我发布的共享时段")
def my_windows(request, cursor: str | None = None, limit: int | None = None):
    return page(sh.my_windows(request.auth), cursor, limit)


@router.post("/windows", response={201: WindowOut, **ERRORS}, summary="发布我的车位空闲时段")
def publish_window(request, payload: WindowIn):
    space = sh.my_spaces(request.auth).filter(pk=payload.space_id).first()
    if space is None:
        raise NotFound("sharing.space_not_found")
    w = sh.window_publish(actor=request.auth, space=space, start_at=payload.start_at, end_at=payload.end_at, price_fen=payload.price_fen,
                          price_mode=payload.price_mode)
    return Status(201, sh.my_window(actor=request.auth, window_id=w.pk))


@router.post("/windows/{window_id}/withdraw", response={200: WindowOut, **ERRORS}, summary="撤回共享时段（已有预约仍有效）")
def withdraw_window(request, window_id: int):
    sh.window_withdraw(actor=request.auth, window=sh.window_get(actor=request.auth, window_id=window_id))
    return sh.window_get(actor=request.auth, window_id=window_id)


@router.get("/bookings", response={200: Page[BookingOut], **ERRORS}, summary="共享车位预约（工作人员，按停车场）")
def list_bookings(request, lot_id: int | None = None, status: str | None = None, cursor: str | None = None, limit: int | None = None):
    return page(sh.booking_list(actor=request.auth, lot_id=lot_id, status=status), cursor, limit)


@router.get("/my/bookings", response={200: Page[BookingOut], **ERRORS}, summary="我的车位预约")
def my_bookings(request, cursor: str | None = None, limit: int | None = None):
    return page(sh.my_bookings(request.auth), cursor, limit)


@router.post("/bookings", response={201: BookingOut, **ERRORS}, summary="预约共享车位（时段重叠返回409）")
def create_booking(request, payload: BookingIn):
    w = sh.window_for_booking(actor=request.auth, window_id=payload.window_id)
    b = sh.booking_create(actor=request.auth, window=w, plate=payload.plate, start_at=payload.start_at, end_at=payload.end_at)
    return Status(201, sh.booking_get(actor=request.auth, booking_id=b.pk))


@router.get("/bookings/{booking_id}", response={200: BookingOut, **ERRORS}, summary="预约详情")
def get_booking(request, booking_id: int):
    return sh.booking_get(actor=request.auth, booking_id=booking_id)


@router.post("/bookings/{booking_id}/cancel", response={200: BookingOut, **ERRORS}, summary="开始前取消预约（已付款则退款）")
def cancel_booking(request, booking_id: int):
    sh.booking_cancel(actor=request.auth, booking=sh.booking_get(actor=request.auth, booking_id=booking_id))
    return sh.booking_get(actor=request.auth, booking_id=booking_id)


@router.post("/bookings/{booking_id}/pay", response={200: BookingOut, **ERRORS}, summary="支付预约费用（含超时费/爽约费）")
def pay_booking(request, booking_id: int, payload: PayIn):
    sh.booking_pay(actor=request.auth, booking=sh.booking_get(actor=request.auth, booking_id=booking_id), amount_fen=payload.amount_fen,
                   method=payload.method)
    return sh.booking_get(actor=request.auth, booking_id=booking_id)


@router.get("/my/earnings", response={200: EarningsOut, **ERRORS}, summary="我的共享收益（余额）")
def my_earnings(request):
    pid = getattr(request.auth, "person_id", None)
    return sh.earnings(pid) if pid else {"balance_fen": 0}


@router.get("/my/ledger", response={200: Page[LedgerOut], **ERRORS}, summary="我的账目（付款、收益、退款）")
def my_ledger(request, cursor: str | None = None, limit: int | None = None):
    return page(sh.my_ledger(request.auth), cursor, limit)


@router.put("/lots/{lot_id}/terms", response={200: TermsOut, **ERRORS}, summary="设置停车场的共享结算规则（分成、爽约费、超时费）")
def set_terms(request, lot_id: int, payload: TermsIn):
    lot = sel.lot_get(actor=request.auth, lot_id=lot_id)
    return sh.terms_set(actor=request.auth, lot=lot, **payload.dict())


@router.get("/lots/{lot_id}/terms", response={200: TermsOut, **ERRORS}, summary="停车场的共享结算规则")
def get_terms(request, lot_id: int):
    return sh.terms_for(sel.lot_get(actor=request.auth, lot_id=lot_id).pk)


@router.get("/settlement", response={200: list[SettlementOut], **ERRORS}, summary="按业主结算（parking.manage）")
def settlement(request, lot_id: int | None = None):
    return sh.settlement(actor=request.auth, lot_id=lot_id)

