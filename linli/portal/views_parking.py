"""Resident portal, parking (/portal/parking/, K1 K2 K5): my cars (register a plate, checked per GA 36
with a clear message), my passes, my cars inside now and visitors I host; where is my car (plate →
lot, zone, space); pay before leaving — the quote, a recorded payment, then "drive out" within the
lot's grace period without stopping at the barrier.

Only the signed-in resident's own cars and hosted visitors are visible; anything else is a 404.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods

from linli.core.errors import DomainError, NotFound
from linli.parking import plates
from linli.parking import selectors as sel
from linli.parking import services as svc
from linli.parking.models import Energy

from .views import portal_view

PAY_METHODS = [("wechat", _lazy("微信支付")), ("alipay", _lazy("支付宝")), ("unionpay", _lazy("银联云闪付"))]


class VehicleForm(forms.Form):
    plate = forms.CharField(label=_lazy("车牌号"), max_length=12, help_text=_lazy("如 鲁A12345；新能源车如 鲁AD12345"))
    energy = forms.ChoiceField(label=_lazy("能源类型"), choices=[("", _lazy("按车牌自动判断"))] + list(Energy.choices), required=False)
    note = forms.CharField(label=_lazy("备注（可空，如车型颜色）"), max_length=100, required=False)


class PayForm(forms.Form):
    amount_fen = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    method = forms.ChoiceField(label=_lazy("支付方式"), choices=PAY_METHODS, widget=forms.RadioSelect, initial="wechat")


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def _with_due(sessions) -> list:
    now = timezone.now()
    for s in sessions:
        q = svc.quote(session=s, at=now)
        s.due_fen, s.due = q["due_fen"], _yuan(q["due_fen"])
    return sessions


def _plate_error(exc: DomainError) -> str:
    if exc.code == "parking.plate_invalid":
        return _("“%(p)s”不是有效的车牌号。普通车牌为7位：省份简称+发牌机关字母+5位字母或数字（不含I、O），如 鲁A12345；"
                 "新能源车牌为8位，第3位为D或F（如 鲁AD12345）或最后一位为D或F。") % {"p": exc.detail.get("plate", "")}
    return exc.message


@require_http_methods(["GET", "POST"])
@portal_view
def parking_home(request):
    actor = request.user
    person = getattr(actor, "person", None)
    form = VehicleForm(request.POST or None)
    ctx: dict = {"person": person, "form": form}
    status = 200
    if request.method == "POST":
        status = 422
        if person is None:
            ctx["error_text"] = _("您的账号还没有关联居民信息，不能登记车辆。")
        elif form.is_valid():
            d = form.cleaned_data
            try:
                v = svc.vehicle_register(actor=actor, owner=person, plate=d["plate"], energy=d["energy"] or None, note=d["note"])
            except DomainError as exc:
                ctx["error_text"], status = _plate_error(exc), exc.status
            else:
                messages.success(request, _("车辆 %(p)s 已登记") % {"p": v.plate})
                return HttpResponseRedirect(reverse("portal:parking_home"))
    vehicles = list(sel.my_vehicles(actor).order_by("plate"))
    inside = _with_due(list(sel.my_open_sessions(actor)[:20]))
    mine = {v.plate for v in vehicles}
    for s in inside:
        s.hosted = s.plate not in mine
    ctx.update(vehicles=vehicles, passes=list(sel.my_passes(actor)[:20]), inside=inside, hosted=sel.my_hosted_recent(actor))
    return render(request, "portal/parking/home.html", ctx, status=status)


@require_GET
@portal_view
def find_car(request):
    """K5: plate → lot, zone and space (own cars only)."""
    actor = request.user
    vehicles = list(sel.my_vehicles(actor).order_by("plate"))
    plate = plates.normalise(request.GET.get("plate") or "")[:8]
    ctx: dict = {"vehicles": vehicles, "plate": plate}
    if plate:
        if plate not in {v.plate for v in vehicles}:
            ctx["not_mine"] = True
        else:
            try:
                ctx["found"] = sel.find_car(actor=actor, plate=plate)
            except NotFound:
                ctx["not_inside"] = True
    return render(request, "portal/parking/find.html", ctx)


@require_http_methods(["GET", "POST"])
@portal_view
def pay(request, session_id: int):
    """Quote and pay; afterwards the exit camera lets the car out within the lot's grace period."""
    actor = request.user
    try:
        s = sel.payable_session(actor=actor, session_id=session_id)
    except NotFound as exc:
        raise Http404 from exc
    q = svc.quote(session=s)
    form = PayForm(request.POST or None, initial={"amount_fen": q["due_fen"]})
    ctx: dict = {"s": s, "q": q, "form": form, "due": _yuan(q["due_fen"]), "total": _yuan(q["total_fen"]), "paid": _yuan(q["paid_fen"]),
                 "stay": _stay(s.entry_at, q["at"])}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "portal/parking/pay.html", ctx, status=422)
        try:
            s = svc.pay(actor=actor, session=s, amount_fen=form.cleaned_data["amount_fen"], method=form.cleaned_data["method"])
        except DomainError as exc:
            if exc.status == 404:
                raise Http404 from exc
            q = svc.quote(session=sel.payable_session(actor=actor, session_id=session_id))
            ctx.update(error=exc, q=q, due=_yuan(q["due_fen"]), form=PayForm(initial={"amount_fen": q["due_fen"]}))
            return render(request, "portal/parking/pay.html", ctx, status=exc.status)
        leave_by = svc.quote(session=s, at=s.paid_at)["pay_before"]
        return render(request, "portal/parking/paid.html", {"s": s, "paid": _yuan(s.paid_fen), "leave_by": leave_by,
                                                           "grace_min": int((leave_by - s.paid_at).total_seconds() // 60)})
    return render(request, "portal/parking/pay.html", ctx)


def _stay(entry: dt.datetime, at: dt.datetime) -> str:
    minutes = max(0, int((at - entry).total_seconds() // 60))
    h, m = divmod(minutes, 60)
    return _("%(h)d小时%(m)d分钟") % {"h": h, "m": m} if h else _("%(m)d分钟") % {"m": m}
