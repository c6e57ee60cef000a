"""Resident portal: my credentials, my QR pass, invite visitors, confirm walk-in visitors (/portal/access/, A1 A4).

Everything starts from the signed-in resident (``account.person``): their own credentials, visits to
the houses they live in. Other people's records are a 404. The QR is signed on the server and drawn
as inline SVG (segno) — no CDN, no script needed to show it; htmx refreshes it before it expires.
The visitor's pass link (``access_pass``) needs no login: the signed token in it *is* the pass.
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
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.access import decision, tokens
from linli.access import selectors as sel
from linli.access import services as svc
from linli.access.models import InviteStatus
from linli.core.errors import DomainError, NotFound
from linli.core.pagination import paginate
from linli.core.pii import mask_name
from linli.people import selectors as people

from .views import portal_view

PAGE_SIZE = 20
QR_TTL = 120  # seconds; the page refreshes it 20 s before expiry


def _homes(request) -> list:
    return list(people.my_residencies(request.user).filter(move_out__isnull=True).select_related("house").order_by("id"))


@require_GET
@portal_view
def access_home(request):
    actor = request.user
    rows, next_cursor = paginate(sel.my_invites(actor).select_related("house"), cursor=request.GET.get("cursor") or None,
                                 limit=PAGE_SIZE, order="-id")
    pending = list(sel.my_invites(actor).filter(status=InviteStatus.PENDING, valid_until__gt=timezone.now())
                   .select_related("house").order_by("-id")[:20])
    creds = list(sel.my_credentials(actor).exclude(status="revoked").select_related("house").order_by("kind", "id"))
    return render(request, "portal/access/home.html", {
        "creds": creds, "pending": pending, "rows": rows, "next_cursor": next_cursor, "is_first_page": not request.GET.get("cursor"),
        "homes": _homes(request), "me": actor.pk,
    })


def _qr_context(request) -> dict:
    actor = request.user
    homes = _homes(request)
    if not homes:
        return {"no_home": True}
    house_id = request.GET.get("house")
    home = next((r for r in homes if str(r.house_id) == house_id), homes[0])
    token, expires, _cred = svc.qr_issue(actor=actor, person=actor.person, house=home.house, ttl=QR_TTL)
    return {"token": token, "expires": expires, "home": home, "homes": homes, "refresh_s": QR_TTL - 20,
            "refresh_url": reverse("portal:access_qr_image") + f"?house={home.house_id}"}


def _qr_page(request, template: str):
    try:
        return render(request, template, _qr_context(request))
    except DomainError as exc:
        return render(request, template, {"error": exc}, status=exc.status)


@require_GET
@never_cache
@portal_view
def access_qr(request):
    return _qr_page(request, "portal/access/qr.html")


@require_GET
@never_cache
@portal_view
def access_qr_image(request):
    """The QR block alone (htmx swaps it in before the previous token expires)."""
    return _qr_page(request, "portal/access/_qr.html")


class InviteForm(forms.Form):
    house = forms.TypedChoiceField(label=_lazy("到访房屋"), coerce=int)
    visitor_name = forms.CharField(label=_lazy("访客姓名"), max_length=60)
    visitor_phone = forms.CharField(label=_lazy("访客手机（可空）"), max_length=20, required=False,
                                    widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}))
    valid_from = forms.DateTimeField(label=_lazy("开始时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    valid_until = forms.DateTimeField(label=_lazy("结束时间（最长7天）"),
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    plate = forms.CharField(label=_lazy("车牌（可空，如 京A12345）"), max_length=10, required=False)

    def __init__(self, *args, homes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["house"].choices = [(r.house_id, r.house.address) for r in homes]
        now = timezone.now().astimezone(decision.TZ).replace(second=0, microsecond=0)
        self.fields["valid_from"].initial = now
        self.fields["valid_until"].initial = now + dt.timedelta(hours=4)

    @staticmethod
    def aware(value: dt.datetime) -> dt.datetime:
        """datetime-local inputs are Beijing time."""
        return value.replace(tzinfo=decision.TZ) if timezone.is_naive(value) else value


@require_http_methods(["GET", "POST"])
@portal_view
def invite_new(request):
    homes = _homes(request)
    form = InviteForm(request.POST or None, homes=homes)
    ctx: dict = {"form": form, "homes": homes}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        house = next((r.house for r in homes if r.house_id == d["house"]), None)
        try:
            if house is None:
                raise NotFound("access.house_not_found")
            inv = svc.visitor_invite(actor=request.user, house=house, visitor_name=d["visitor_name"], visitor_phone=d["visitor_phone"],
                                     plate=d["plate"], valid_from=form.aware(d["valid_from"]), valid_until=form.aware(d["valid_until"]))
        except DomainError as exc:
            ctx["error"] = exc
            return render(request, "portal/access/invite_new.html", ctx, status=exc.status)
        if inv.status == InviteStatus.DENIED:
            messages.error(request, _("该访客暂不能通行，请联系物业或社区。"))
        else:
            messages.success(request, _("邀请已生成，请把通行码发给访客。"))
        return HttpResponseRedirect(reverse("portal:access_invite", args=[inv.pk]))
    return render(request, "portal/access/invite_new.html", ctx, status=422 if request.method == "POST" else 200)


def _my_invite(request, invite_id: int):
    try:
        return sel.my_invite(request.user, invite_id)
    except NotFound as exc:
        raise Http404 from exc


@require_GET
@portal_view
def invite_detail(request, invite_id: int):
    inv = _my_invite(request, invite_id)
    ctx: dict = {"inv": inv, "mine": inv.host_account_id == request.user.pk}
    if inv.status == InviteStatus.CONFIRMED and inv.valid_until > timezone.now():
        token, _exp = svc.visitor_pass(invite=inv)
        link = request.build_absolute_uri(reverse("portal:access_pass", args=[token]))
        local = decision.TZ
        ctx.update(token=token, link=link, sms=_("【邻里】%(host)s邀请您于%(a)s至%(b)s来访%(addr)s，入门时出示通行码：%(link)s") % {
            "host": mask_name(inv.host_person.name), "a": inv.valid_from.astimezone(local).strftime("%m-%d %H:%M"),
            "b": inv.valid_until.astimezone(local).strftime("%m-%d %H:%M"), "addr": inv.house.building.estate.name, "link": link})
    return render(request, "portal/access/invite.html", ctx)


@require_POST
@portal_view
def invite_action(request, invite_id: int, action: str):
    inv = _my_invite(request, invite_id)
    try:
        if action in ("confirm", "reject"):
            svc.host_confirm(actor=request.user, invite=inv, accept=action == "confirm")
            messages.success(request, _("已确认来访") if action == "confirm" else _("已拒绝来访"))
        elif action == "cancel":
            svc.visitor_cancel(actor=request.user, invite=inv)
            messages.success(request, _("邀请已取消，通行码立即失效"))
        else:
            raise Http404
    except DomainError as exc:
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, exc.message)
    back = request.POST.get("back") or ""
    return HttpResponseRedirect(back if back.startswith("/portal/access/") else reverse("portal:access_home"))


@require_GET
@never_cache
def access_pass(request, token: str):
    """The visitor's pass page (no login): shows the QR while the signed token is valid, nothing personal."""
    try:
        claims = tokens.qr_verify(token)
    except tokens.QrError:
        return render(request, "portal/access/pass.html", {"invalid": True}, status=404)
    if claims.type != "v":
        return render(request, "portal/access/pass.html", {"invalid": True}, status=404)
    return render(request, "portal/access/pass.html", {"token": token, "expires": dt.datetime.fromtimestamp(claims.expires, dt.UTC)})
