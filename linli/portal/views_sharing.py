"""Resident portal: share my parking space, book a neighbour's space or an EV charger, start and stop
charging, pay, my earnings (/portal/sharing/, K6 K7).

Everything is the signed-in resident's own: their spaces, windows, bookings and charges (another
resident's row is a 404). Times are entered and shown in Asia/Shanghai local time (no DST).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.core.errors import DomainError, Invalid
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.parking import charging as ch
from linli.parking import sharing as sh
from linli.parking.models import ACTIVE_BOOKING, ChargingStatus, PriceMode

from .views import portal_view

LOCAL = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
PAGE_SIZE = 20


def _local_input(**attrs) -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local", **attrs}, format="%Y-%m-%dT%H:%M")


class RangeForm(forms.Form):
    start_at = forms.DateTimeField(label=_lazy("开始"), input_formats=LOCAL, widget=_local_input())
    end_at = forms.DateTimeField(label=_lazy("结束"), input_formats=LOCAL, widget=_local_input())

    def clean(self):
        data = super().clean()
        s, e = data.get("start_at"), data.get("end_at")
        if s and e and e <= s:
            raise forms.ValidationError(_("结束时间须晚于开始时间"))
        if s and e and e - s > dt.timedelta(days=31):
            raise forms.ValidationError(_("时段不能超过31天"))
        return data


class WindowForm(RangeForm):
    space = forms.TypedChoiceField(label=_lazy("我的车位"), coerce=int)
    price_mode = forms.ChoiceField(label=_lazy("计价方式"), choices=PriceMode.choices, initial=PriceMode.HOURLY)
    price_yuan = forms.DecimalField(label=_lazy("价格（元，按小时或一口价）"), min_value=Decimal("0"), max_value=Decimal("10000"), decimal_places=2)

    def __init__(self, *args, spaces, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["space"].choices = [(s.pk, f"{s.lot.name} {s.number}") for s in spaces]
        self.order_fields(["space", "start_at", "end_at", "price_mode", "price_yuan"])


class BookForm(RangeForm):
    window = forms.IntegerField(widget=forms.HiddenInput)
    plate = forms.CharField(label=_lazy("车牌"), max_length=12)


class SlotForm(RangeForm):
    charger = forms.IntegerField(widget=forms.HiddenInput)
    plate = forms.CharField(label=_lazy("车牌"), max_length=12)


def _default_range() -> dict:
    start = timezone.localtime().replace(second=0, microsecond=0) + dt.timedelta(hours=1)
    start = start.replace(minute=0)
    return {"start_at": start, "end_at": start + dt.timedelta(hours=2)}


def _done(request, text: str, to: str) -> HttpResponseRedirect:
    messages.success(request, text)
    return HttpResponseRedirect(reverse(to))


@require_GET
@portal_view
def sharing_home(request):
    actor = request.user
    pid = actor.person_id
    bookings = list(sh.my_bookings(actor).order_by("-start_at")[:10])
    sessions = list(ch.my_sessions(actor).order_by("-id")[:5])
    return render(request, "portal/sharing/home.html", {
        "bookings": bookings, "sessions": sessions, "active": set(ACTIVE_BOOKING), "now": timezone.now(),
        "earnings": sh.earnings(pid) if pid else {"balance_fen": 0}, "has_spaces": sh.my_spaces(actor).exists(),
        "charging": ChargingStatus.CHARGING,
    })


@require_http_methods(["GET", "POST"])
@portal_view
def sharing_share(request):
    actor = request.user
    spaces = list(sh.my_spaces(actor))
    form = WindowForm(request.POST or None, spaces=spaces, initial=_default_range())
    error = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        space = next((s for s in spaces if s.pk == d["space"]), None)
        try:
            if space is None:
                raise Invalid("sharing.space_not_found", Msg("请选择您的车位", "Choose one of your spaces"))
            sh.window_publish(actor=actor, space=space, start_at=d["start_at"], end_at=d["end_at"], price_mode=d["price_mode"],
                              price_fen=int(d["price_yuan"] * 100))
        except DomainError as exc:
            error = exc
        else:
            return _done(request, _("已发布，邻居现在可以预约这个时段。"), "portal:sharing_share")
    rows, next_cursor = paginate(sh.my_windows(actor), cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, order="-id")
    status = error.status if error else (422 if request.method == "POST" else 200)
    return render(request, "portal/sharing/share.html", {"form": form, "spaces": spaces, "rows": rows, "next_cursor": next_cursor,
                                                         "is_first_page": not request.GET.get("cursor"), "error": error}, status=status)


@require_POST
@portal_view
def sharing_withdraw(request, window_id: int):
    try:
        sh.window_withdraw(actor=request.user, window=sh.my_window(actor=request.user, window_id=window_id))
    except DomainError as exc:
        raise Http404 from exc
    return _done(request, _("已撤回；已有的预约仍然有效。"), "portal:sharing_share")


@require_http_methods(["GET", "POST"])
@portal_view
def sharing_find(request):
    """Search free windows near home by time (GET), book one (POST)."""
    actor = request.user
    data = request.POST if request.method == "POST" else (request.GET if request.GET.get("start_at") else None)
    form = RangeForm(data, initial=_default_range())
    results, error, status = None, None, 200
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        if request.method == "POST":
            book = BookForm(request.POST)
            try:
                if not book.is_valid():
                    raise Invalid("sharing.form", Msg("请填写车牌", "Enter the plate"), detail=dict(book.errors))
                w = sh.window_for_booking(actor=actor, window_id=book.cleaned_data["window"])
                sh.booking_create(actor=actor, window=w, plate=book.cleaned_data["plate"], start_at=d["start_at"], end_at=d["end_at"])
            except DomainError as exc:
                error, status = exc, exc.status
            else:
                return _done(request, _("预约成功，请按时入场；到时车牌识别自动放行。"), "portal:sharing_home")
        results = sh.open_windows(actor=actor, start_at=d["start_at"], end_at=d["end_at"])
        for w in results:
            w.quote_fen = sh.price_for(w, d["start_at"], d["end_at"])
    elif form.is_bound:
        status = 422
    return render(request, "portal/sharing/find.html", {"form": form, "results": results, "error": error}, status=status)


@require_POST
@portal_view
def sharing_booking_act(request, booking_id: int, action: str):
    actor = request.user
    b = sh.my_bookings(actor).filter(pk=booking_id).first()
    if b is None or action not in ("cancel", "pay"):
        raise Http404
    try:
        if action == "cancel":
            sh.booking_cancel(actor=actor, booking=b)
            text = _("预约已取消")
        else:
            sh.booking_pay(actor=actor, booking=b, amount_fen=b.due_fen, method="portal")
            text = _("付款成功")
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("portal:sharing_home"))
    return _done(request, text, "portal:sharing_home")


@require_http_methods(["GET", "POST"])
@portal_view
def sharing_chargers(request):
    actor = request.user
    chargers = list(ch.chargers_near(actor).order_by("lot_id", "name")[:100])
    states = ch.charger_states(chargers)
    form = SlotForm(request.POST or None)
    error, status = None, 200
    if request.method == "POST":
        try:
            if not form.is_valid():
                raise Invalid("charging.form", Msg("请检查预约时间和车牌", "Check the time and the plate"), detail=dict(form.errors))
            d = form.cleaned_data
            c = ch.charger_for_resident(actor=actor, charger_id=d["charger"])
            ch.booking_create(actor=actor, charger=c, plate=d["plate"], start_at=d["start_at"], end_at=d["end_at"])
        except DomainError as exc:
            error, status = exc, exc.status
        else:
            return _done(request, _("充电时段已预约"), "portal:sharing_chargers")
    rows = [{"c": c, **states[c.pk]} for c in chargers]
    slots = list(ch.my_bookings(actor).filter(status__in=ACTIVE_BOOKING).order_by("start_at")[:20])
    running = list(ch.my_sessions(actor).filter(status=ChargingStatus.CHARGING))
    d = _default_range()
    return render(request, "portal/sharing/chargers.html", {
        "rows": rows, "error": error, "slots": slots, "running": running,
        "slot_start": f"{d['start_at']:%Y-%m-%dT%H:%M}", "slot_end": f"{d['end_at']:%Y-%m-%dT%H:%M}"}, status=status)


@require_POST
@portal_view
def sharing_charge_act(request, obj_id: int, action: str):
    """start (a charger id), stop / pay (a session id), cancel (a slot id)."""
    actor = request.user
    try:
        if action == "start":
            ch.start(actor=actor, charger=ch.charger_for_resident(actor=actor, charger_id=obj_id))
            text = _("已发送开始充电指令")
        elif action in ("stop", "pay"):
            s = ch.my_sessions(actor).filter(pk=obj_id).first()
            if s is None:
                raise Http404
            if action == "stop":
                s = ch.stop(actor=actor, session=s)
                text = _("已结束充电，本次费用 %(fee)s 元") % {"fee": f"{s.total_fen / 100:.2f}"}
            else:
                ch.pay(actor=actor, session=s, amount_fen=s.due_fen, method="portal")
                text = _("付款成功")
        elif action == "cancel":
            slot = ch.my_bookings(actor).filter(pk=obj_id).first()
            if slot is None:
                raise Http404
            ch.booking_cancel(actor=actor, booking=slot)
            text = _("充电预约已取消")
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("portal:sharing_chargers"))
    return _done(request, text, "portal:sharing_chargers" if action != "pay" else "portal:sharing_home")


@require_GET
@portal_view
def sharing_earnings(request):
    actor = request.user
    rows, next_cursor = paginate(sh.my_ledger(actor), cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, order="-id")
    return render(request, "portal/sharing/earnings.html", {
        "rows": rows, "next_cursor": next_cursor, "is_first_page": not request.GET.get("cursor"),
        "earnings": sh.earnings(actor.person_id) if actor.person_id else {"balance_fen": 0}})
