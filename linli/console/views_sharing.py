"""Console pages for shared spaces and EV charging (/console/sharing/, K6 K7): bookings and windows per
lot (parking.view), chargers with live status and their sessions (parking.view), the settlement per
owner and a lot's settlement terms (parking.manage).

Views parse input, call linli.parking.sharing / charging and render. Out of scope ⇒ 404; no
permission at all ⇒ 403; service errors are shown next to the form.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods

from linli.core.errors import DomainError
from linli.core.pagination import paginate
from linli.orgs.perms import check_perm_anywhere
from linli.orgs.selectors import has_perm_anywhere
from linli.parking import charging as ch
from linli.parking import selectors as parking
from linli.parking import sharing as sh
from linli.parking.models import BookingStatus, ChargingStatus, WindowStatus
from linli.parking.perms import ParkingPerm as P

from .access import console_view

PAGE_SIZE = 50


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _page(request, qs, order: str = "-id") -> dict:
    rows, next_cursor = paginate(qs, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, order=order)
    return {"rows": rows, "next_cursor": next_cursor, "is_first_page": not request.GET.get("cursor")}


def _lot_filter(request) -> tuple[list, object | None]:
    """The lots in the actor's parking.view scope and the one chosen with ?lot= (404 when out of scope)."""
    lots = list(parking.lot_list(actor=request.user).order_by("name").only("id", "name"))
    lot_id = _int(request.GET.get("lot"))
    lot = parking.lot_get(actor=request.user, lot_id=lot_id) if lot_id is not None else None
    return lots, lot


@require_GET
@console_view
def sharing_home(request):
    """Bookings (filter by lot and status) with the lot's open windows."""
    actor = request.user
    check_perm_anywhere(actor, P.VIEW)
    lots, lot = _lot_filter(request)
    status = request.GET.get("status") if request.GET.get("status") in BookingStatus.values else ""
    ctx = _page(request, sh.booking_list(actor=actor, lot_id=lot.pk if lot else None, status=status or None).select_related("booker"))
    windows = list(sh.window_list(actor=actor, lot_id=lot.pk if lot else None, status=WindowStatus.OPEN).select_related("owner")
                   .order_by("start_at")[:50])
    return render(request, "console/sharing/home.html", {**ctx, "lots": lots, "lot": lot, "status": status, "statuses": BookingStatus.choices,
                                                         "windows": windows, "can_manage": has_perm_anywhere(actor, P.MANAGE)})


@require_GET
@console_view
def sharing_chargers(request):
    actor = request.user
    check_perm_anywhere(actor, P.VIEW)
    lots, lot = _lot_filter(request)
    chargers = list(ch.charger_list(actor=actor, lot_id=lot.pk if lot else None).order_by("lot_id", "name")[:200])
    states = ch.charger_states(chargers)
    charger_id = _int(request.GET.get("charger"))
    if charger_id is not None:
        ch.charger_get(actor=actor, charger_id=charger_id)
    sessions = _page(request, ch.session_list(actor=actor, charger_id=charger_id).select_related("person"))
    return render(request, "console/sharing/chargers.html", {**sessions, "lots": lots, "lot": lot, "charger_id": charger_id,
                                                             "items": [{"c": c, **states[c.pk]} for c in chargers],
                                                             "charging": ChargingStatus.CHARGING,
                                                             "can_see_devices": has_perm_anywhere(actor, "device.view")})


class TermsForm(forms.Form):
    platform_permille = forms.IntegerField(label=_lazy("平台/物业分成（‰）"), min_value=0, max_value=1000)
    grace_minutes = forms.IntegerField(label=_lazy("入场/离场宽限（分钟）"), min_value=0, max_value=240)
    no_show_yuan = forms.DecimalField(label=_lazy("爽约费（元）"), min_value=Decimal(0), max_value=Decimal(10000), decimal_places=2)
    overstay_yuan_per_hour = forms.DecimalField(label=_lazy("超时费（元/小时）"), min_value=Decimal(0), max_value=Decimal(10000), decimal_places=2)


@require_http_methods(["GET", "POST"])
@console_view
def sharing_settlement(request):
    """Owners' net credits in scope; with ?lot= the lot's settlement terms can be edited."""
    actor = request.user
    check_perm_anywhere(actor, P.MANAGE)
    lots, lot = _lot_filter(request)
    form, error = None, None
    if lot is not None:
        t = sh.terms_for(lot.pk)
        form = TermsForm(request.POST or None, initial={"platform_permille": t.platform_permille, "grace_minutes": t.grace_minutes,
                                                        "no_show_yuan": Decimal(t.no_show_fen) / 100,
                                                        "overstay_yuan_per_hour": Decimal(t.overstay_fen_per_hour) / 100})
        if request.method == "POST" and form.is_valid():
            d = form.cleaned_data
            try:
                sh.terms_set(actor=actor, lot=lot, platform_permille=d["platform_permille"], grace_minutes=d["grace_minutes"],
                             no_show_fen=int(d["no_show_yuan"] * 100), overstay_fen_per_hour=int(d["overstay_yuan_per_hour"] * 100))
            except DomainError as exc:
                error = exc
            else:
                messages.success(request, _("结算规则已保存"))
                return redirect(f"{request.path}?lot={lot.pk}")
    rows = sh.settlement(actor=actor, lot_id=lot.pk if lot else None)
    return render(request, "console/sharing/settlement.html", {"rows": rows, "lots": lots, "lot": lot, "form": form, "error": error},
                  status=error.status if error else (422 if form is not None and form.is_bound and not form.is_valid() else 200))
