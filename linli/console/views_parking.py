"""Console pages for parking (/console/parking/, K1–K5): lots in scope with their figures; per lot a
dashboard with occupancy charts, free-space figures and a live event feed (htmx polls every 3 s / 10 s,
and the "parking" live stream refreshes them at once), sessions (search by
plate, pay at the booth, close by hand), passes, zones and spaces, the decision log and guidance
screens (staff page and revocable wall-display URLs without login); billing rules, vehicles, plate
flags and parking alarms (一卡多车 included) across the lots in scope.

Views parse input, call linli.parking selectors/services and render. Out of scope ⇒ 404; no
permission at all ⇒ 403; service errors are shown next to the form (or as the error page).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.core.errors import DomainError, NotFound
from linli.core.pagination import paginate
from linli.orgs.perms import check_perm_anywhere, covers
from linli.orgs.selectors import has_perm_anywhere
from linli.parking import plates
from linli.parking import selectors as sel
from linli.parking import services as svc
from linli.parking.billing import CST
from linli.parking.models import (
    Direction,
    FlagKind,
    OverusePolicy,
    ParkingLot,
    PassKind,
    PassStatus,
    SpaceKind,
)
from linli.parking.perms import ParkingPerm as P
from linli.people.models import Person
from linli.places.models import Estate, Region

from .access import console_view, is_htmx
from .streams import live_stream_response, live_url

PAGE_SIZE = 50
FEED_SIZE = 30
REASONS = {
    "visitor": _lazy("临时车"), "pass": _lazy("月卡车"), "visitor_host_pays": _lazy("访客（住户付费）"),
    "pass_overuse_visitor": _lazy("一卡多车，按临时车"), "pass_overuse": _lazy("一卡多车，禁止入场"), "already_inside": _lazy("已在场"),
    "plate_stolen": _lazy("被盗车辆"), "plate_blocked": _lazy("禁止入场车牌"), "plate_invalid": _lazy("车牌无法识别"),
    "lot_inactive": _lazy("停车场停用"), "no_session": _lazy("无入场记录"), "payment_due": _lazy("待缴费"), "paid": _lazy("已缴费"),
    "free": _lazy("免费时段"), "host_billed": _lazy("由被访住户付费"), "closed_by_hand": _lazy("岗亭手工关闭"),
}


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _page(request, qs, order: str = "-id") -> dict:
    rows, next_cursor = paginate(qs, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, order=order)
    return {"rows": rows, "next_cursor": next_cursor, "is_first_page": not request.GET.get("cursor")}


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def _lot(request, lot_id: int) -> ParkingLot:
    return sel.lot_get(actor=request.user, lot_id=lot_id)


def _can(request, perm: str, lot: ParkingLot) -> bool:
    return covers(request.user, perm, lot.region.path)


def _submit(request, ctx: dict, action, done: str, to: str, **kwargs):
    """Run a service write for a form: a redirect with ``done`` on success; a domain error (other than
    403) goes next to the form with its status (in ``ctx``); returns None then."""
    try:
        action()
    except DomainError as exc:
        if exc.status == 403:
            raise
        ctx["error"], ctx["http"] = exc, exc.status
        return None
    messages.success(request, done)
    return redirect(to, **kwargs)


def _person(person_id: int | None) -> Person | None:
    if not person_id:
        return None
    person = Person.objects.filter(pk=person_id).select_related("region").first()
    if person is None:
        raise NotFound("parking.person_not_found")
    return person


def _regions(actor, perm: str, levels: tuple[str, ...]) -> list[Region]:
    """Regions (of these levels) inside the actor's scope for ``perm``, for a form's choice list."""
    paths = actor.scope_paths(perm)
    qs = Region.objects.filter(level__in=levels).order_by("path")
    if paths is not None:
        q = Q(pk__in=[])
        for p in paths:
            q |= Q(path__startswith=p)
        qs = qs.filter(q)
    return list(qs[:300])


def _lot_ctx(request, lot: ParkingLot, section: str) -> dict:
    return {"lot": lot, "section": section, "can_manage": _can(request, P.MANAGE, lot), "can_operate": _can(request, P.OPERATE, lot),
            "can_flag": _can(request, P.FLAG, lot)}


# ---- home: lots in scope ---------------------------------------------------------------------------


@require_GET
@console_view
def parking_home(request):
    actor = request.user
    check_perm_anywhere(actor, P.VIEW)
    q = (request.GET.get("q") or "").strip()[:40]
    qs = sel.lot_list(actor=actor).select_related("region", "estate", "rule").annotate(
        inside=Count("sessions", filter=Q(sessions__exit_at__isnull=True)))
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q))
    page = _page(request, qs, order="id")
    for lot in page["rows"]:
        lot.free = max(0, lot.capacity - lot.inside)
        lot.pct = round(100 * lot.inside / lot.capacity) if lot.capacity else 0
    open_alarms = sel.alarm_list(actor=actor, open_only=True).count() if has_perm_anywhere(actor, P.FLAG) else None
    return render(request, "console/parking/home.html", {"q": q, "open_alarms": open_alarms, "can_flag": open_alarms is not None,
                                                          "can_manage": has_perm_anywhere(actor, P.MANAGE), **page})


class LotForm(forms.Form):
    name = forms.CharField(label=_lazy("名称"), max_length=100)
    capacity = forms.IntegerField(label=_lazy("车位总数"), min_value=1, max_value=100_000)
    rule = forms.TypedChoiceField(label=_lazy("收费规则"), coerce=int, required=False, empty_value=None)
    overuse_policy = forms.ChoiceField(label=_lazy("一卡多车处理"), choices=OverusePolicy.choices, initial=OverusePolicy.VISITOR)
    exit_grace_minutes = forms.IntegerField(label=_lazy("缴费后离场时限（分钟）"), min_value=0, max_value=240, initial=15)

    def __init__(self, *args, rules, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = [("", _("不收费"))] + [(r.pk, r.name) for r in rules]


class LotCreateForm(LotForm):
    code = forms.CharField(label=_lazy("编码（全局唯一）"), max_length=40)
    estate = forms.TypedChoiceField(label=_lazy("所属小区"), coerce=int)

    field_order = ["code", "name", "estate", "capacity", "rule", "overuse_policy", "exit_grace_minutes"]

    def __init__(self, *args, estates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["estate"].choices = [(e.pk, f"{e.name}（{e.region.name}）") for e in estates]


def _rules_for(actor, path: str | None = None) -> list:
    rules = list(sel.rule_list(actor=actor).select_related("region").order_by("name")[:300])
    return [r for r in rules if path is None or path.startswith(r.region.path)]


@require_http_methods(["GET", "POST"])
@never_cache
@console_view
def lot_create(request):
    """A new lot of an estate in the actor's parking.manage scope; the camera token is shown once."""
    actor = request.user
    check_perm_anywhere(actor, P.MANAGE)
    paths = actor.scope_paths(P.MANAGE)
    estates = Estate.objects.select_related("region").order_by("name")
    if paths is not None:
        q = Q(pk__in=[])
        for p in paths:
            q |= Q(region__path__startswith=p)
        estates = estates.filter(q)
    estates = list(estates[:500])
    form = LotCreateForm(request.POST or None, rules=_rules_for(actor), estates=estates)
    ctx: dict = {"form": form}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            estate = next(e for e in estates if e.pk == d["estate"])
            rule = sel.rule_get(actor=actor, rule_id=d["rule"]) if d["rule"] else None
            lot, token = svc.lot_create(actor=actor, code=d["code"], name=d["name"], capacity=d["capacity"], estate=estate, rule=rule,
                                        overuse_policy=d["overuse_policy"], exit_grace_minutes=d["exit_grace_minutes"])
        except DomainError as exc:
            if exc.status == 403:
                raise
            return render(request, "console/parking/lot_form.html", {**ctx, "error": exc}, status=exc.status)
        return render(request, "console/parking/lot_created.html", {"lot": lot, "token": token})
    return render(request, "console/parking/lot_form.html", ctx, status=422 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@console_view
def lot_settings(request, lot_id: int):
    actor = request.user
    lot = _lot(request, lot_id)
    if not _can(request, P.MANAGE, lot):
        check_perm_anywhere(actor, P.MANAGE)
        raise NotFound("parking.lot_not_found")
    initial = {"name": lot.name, "capacity": lot.capacity, "rule": lot.rule_id, "overuse_policy": lot.overuse_policy,
               "exit_grace_minutes": lot.exit_grace_minutes}
    form = LotForm(request.POST or None, rules=_rules_for(actor, lot.region.path), initial=initial)
    form.fields["is_active"] = forms.BooleanField(label=_("启用"), required=False, initial=lot.is_active)
    ctx: dict = {**_lot_ctx(request, lot, "settings"), "form": form}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data

        def save():
            rule = sel.rule_get(actor=actor, rule_id=d["rule"]) if d["rule"] else None
            svc.lot_update(actor=actor, lot=lot, name=d["name"], capacity=d["capacity"], rule=rule, overuse_policy=d["overuse_policy"],
                           exit_grace_minutes=d["exit_grace_minutes"], is_active=d["is_active"])

        done = _submit(request, ctx, save, _("停车场设置已保存，立即生效"), "console:parking_lot", lot_id=lot.pk)
        if done:
            return done
    return render(request, "console/parking/lot_form.html", ctx, status=ctx.get("http", 422 if request.method == "POST" else 200))


# ---- per-lot dashboard with charts and live feed -----------------------------------------------------


def _today(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    local = now.astimezone(CST)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, min(start + dt.timedelta(days=1), now + dt.timedelta(seconds=1))


def _charts(lot: ParkingLot, now: dt.datetime) -> tuple[dict, list[dict]]:
    since, until = _today(now)
    occ = sel.stats_per_hour(actor=None, lot=lot, since=since, until=until)
    ev = sel.event_stats_per_hour(lot=lot, since=since, until=until)
    zones = sel.free_spaces(lot=lot)
    hours = [f"{h['hour']:%H}:00" for h in occ]
    charts = {
        "pk-occupancy": {"title": _("今日逐小时在场车辆"), "kind": "line", "labels": hours, "values": [h["occupied"] for h in occ],
                      "series": [{"name": _("在场"), "values": [h["occupied"] for h in occ]}]},
        "pk-flows": {"title": _("今日逐小时进出（放行）"), "kind": "bars", "labels": hours,
                  "values": [h["entries"] + h["exits"] for h in ev],
                  "series": [{"name": _("入场"), "values": [h["entries"] for h in ev]}, {"name": _("出场"), "values": [h["exits"] for h in ev]},
                             {"name": _("拒绝"), "values": [h["entries_denied"] + h["exits_denied"] for h in ev]}]},
        "pk-zones": {"title": _("各区域空余车位"), "kind": "bars", "labels": [z["name"] or z["code"] for z in zones],
                  "values": [z["free"] for z in zones],
                  "series": [{"name": _("空余"), "values": [z["free"] for z in zones]}, {"name": _("占用"), "values": [z["occupied"] for z in zones]}]},
    }
    return charts, zones


def _feed(request, lot: ParkingLot) -> list[dict]:
    rows = sel.live_feed(actor=request.user, lot=lot, limit=FEED_SIZE)
    for r in rows:
        if r["type"] == "event":
            r["reason_label"] = REASONS.get(r["reason"], r["reason"])
            r["due"] = _yuan(r["amount_due_fen"]) if r["amount_due_fen"] else ""
    return rows


@require_GET
@console_view
def lot_detail(request, lot_id: int):
    lot = _lot(request, lot_id)
    now = timezone.now()
    charts, zones = _charts(lot, now)
    ctx = _lot_ctx(request, lot, "dashboard")
    displays = list(sel.display_list(actor=request.user, lot_id=lot.pk).order_by("-id")[:20]) if ctx["can_manage"] else []
    return render(request, "console/parking/lot.html", {
        **ctx, "charts": charts, **_figures(request, lot, zones), "feed": _feed(request, lot), "now": now, "displays": displays,
        "live_url": live_url("console:parking_stream"),
    })


def _figures(request, lot: ParkingLot, zones: list[dict] | None = None) -> dict:
    """The lot's live numbers: cars inside, free spaces, and free spaces per zone."""
    inside = sel.session_list(actor=request.user, lot_id=lot.pk, inside=True).count()
    return {"inside": inside, "free": max(0, lot.capacity - inside), "zones": sel.free_spaces(lot=lot) if zones is None else zones}


@require_GET
@console_view
def lot_figures(request, lot_id: int):
    """Free spaces and cars inside (and, out of band, the per-zone table): htmx refreshes them every 10 s
    and at once when an entry, exit or move changes them (live)."""
    lot = _lot(request, lot_id)
    if not is_htmx(request):
        return redirect("console:parking_lot", lot_id=lot.pk)
    return render(request, "console/parking/_figures.html", {"lot": lot, "oob": True, **_figures(request, lot)})


@require_GET
@console_view
def parking_stream(request):
    """Server-sent events: an entry, exit, payment or free-space change at a lot in the viewer's scope
    (204 without a live backend: the pages keep polling)."""
    return live_stream_response(request, ["parking"], P.VIEW)


@require_GET
@console_view
def lot_feed(request, lot_id: int):
    """The live feed body (htmx polls it every 3 s)."""
    lot = _lot(request, lot_id)
    if not is_htmx(request):
        return redirect("console:parking_lot", lot_id=lot.pk)
    return render(request, "console/parking/_feed.html", {"lot": lot, "feed": _feed(request, lot), "now": timezone.now()})


# ---- sessions: search, pay at the booth, close by hand -------------------------------------------------


@require_GET
@console_view
def session_list(request, lot_id: int):
    lot = _lot(request, lot_id)
    g = request.GET
    plate = plates.normalise(g.get("plate") or "")[:8]
    state = g.get("state") if g.get("state") in ("inside", "paid", "exited", "all") else "inside"
    qs = sel.session_list(actor=request.user, lot_id=lot.pk, plate=plate or None, status=None if state in ("inside", "all") else state,
                          inside=True if state == "inside" else None)
    page = _page(request, qs)
    now = timezone.now()
    for s in page["rows"]:
        s.due_fen = svc.quote(session=s, at=now)["due_fen"] if s.exit_at is None else 0
        s.due, s.paid = _yuan(s.due_fen), _yuan(s.paid_fen)
    return render(request, "console/parking/sessions.html", {**_lot_ctx(request, lot, "sessions"), "plate": plate, "state": state, **page})


@require_POST
@console_view
def session_act(request, session_id: int, action: str):
    actor = request.user
    s = sel.session_get(actor=actor, session_id=session_id)
    back = reverse("console:parking_sessions", args=[s.lot_id]) + f"?plate={s.plate}&state=all"
    try:
        if action == "pay":
            amount = _int(request.POST.get("amount_fen"))
            svc.pay(actor=actor, session=s, amount_fen=amount if amount is not None else -1, method="booth")
            messages.success(request, _("已收费 %(y)s 元，车辆可在时限内离场") % {"y": _yuan(amount or 0)})
        elif action == "close":
            svc.session_close(actor=actor, session=s, note=request.POST.get("note", ""))
            messages.success(request, _("已手工关闭 %(p)s 的停车记录") % {"p": s.plate})
        else:
            raise NotFound("parking.action_unknown")
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, f"{exc.message}（{exc.code}）")
    return redirect(back)


# ---- passes -------------------------------------------------------------------------------------------


class PassForm(forms.Form):
    person_id = forms.IntegerField(label=_lazy("持卡人编号"), min_value=1, help_text=_lazy("在“人员查询”中找到的人员编号"))
    kind = forms.ChoiceField(label=_lazy("类型"), choices=PassKind.choices)
    plates = forms.CharField(label=_lazy("车牌（多个用逗号分隔）"), max_length=60)
    space = forms.TypedChoiceField(label=_lazy("车位（固定车位卡必填）"), coerce=int, required=False, empty_value=None)
    valid_from = forms.DateField(label=_lazy("生效日期"), widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(label=_lazy("到期日期（含当天）"), widget=forms.DateInput(attrs={"type": "date"}))
    max_inside = forms.IntegerField(label=_lazy("同时在场车辆上限"), min_value=1, max_value=5, initial=1)

    def __init__(self, *args, spaces, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["space"].choices = [("", "—")] + [(s.pk, f"{s.number}（{s.get_kind_display()}）") for s in spaces]


def _day_start(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(), tzinfo=CST)


@require_http_methods(["GET", "POST"])
@console_view
def pass_list(request, lot_id: int):
    actor = request.user
    lot = _lot(request, lot_id)
    ctx = _lot_ctx(request, lot, "passes")
    status = request.GET.get("status") if request.GET.get("status") in PassStatus.values else PassStatus.ACTIVE
    spaces = list(sel.space_list(actor=actor, lot_id=lot.pk).order_by("number")[:500]) if ctx["can_manage"] else []
    form = PassForm(request.POST or None, spaces=spaces, initial={"valid_from": timezone.localdate()})
    if request.method == "POST":
        if not ctx["can_manage"]:
            check_perm_anywhere(actor, P.MANAGE)
            raise NotFound("parking.lot_not_found")
        ctx["http"] = 422
        if form.is_valid():
            d = form.cleaned_data

            def create():
                space = sel.space_get(actor=actor, space_id=d["space"]) if d["space"] else None
                svc.pass_create(actor=actor, lot=lot, person=_person(d["person_id"]), kind=d["kind"],
                                plates_=[p for p in d["plates"].replace("，", ",").split(",") if p.strip()],
                                valid_from=_day_start(d["valid_from"]), valid_until=_day_start(d["valid_until"]) + dt.timedelta(days=1),
                                space=space, max_inside=d["max_inside"])

            done = _submit(request, ctx, create, _("月卡已办理"), "console:parking_passes", lot_id=lot.pk)
            if done:
                return done
    qs = sel.pass_list(actor=actor, lot_id=lot.pk, status=status).select_related("person", "space")
    return render(request, "console/parking/passes.html", {**ctx, "form": form, "status": status, "statuses": PassStatus.choices,
                                                            **_page(request, qs)}, status=ctx.get("http", 200))


@require_POST
@console_view
def pass_cancel(request, pass_id: int):
    pp = sel.pass_get(actor=request.user, pass_id=pass_id)
    svc.pass_cancel(actor=request.user, parking_pass=pp)
    messages.success(request, _("月卡已注销，立即生效"))
    return redirect("console:parking_passes", lot_id=pp.lot_id)


# ---- zones and spaces ---------------------------------------------------------------------------------


class ZoneForm(forms.Form):
    code = forms.CharField(label=_lazy("区域编码"), max_length=20)
    name = forms.CharField(label=_lazy("名称"), max_length=60)
    capacity = forms.IntegerField(label=_lazy("公共车位数"), min_value=0, max_value=100_000, initial=0)


class SpaceForm(forms.Form):
    number = forms.CharField(label=_lazy("车位号"), max_length=20)
    zone = forms.TypedChoiceField(label=_lazy("区域"), coerce=int, required=False, empty_value=None)
    kind = forms.ChoiceField(label=_lazy("类型"), choices=SpaceKind.choices, initial=SpaceKind.PUBLIC)
    owner_id = forms.IntegerField(label=_lazy("业主/承租人编号（产权、租赁车位必填）"), min_value=1, required=False)

    def __init__(self, *args, zones, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["zone"].choices = [("", "—")] + [(z.pk, f"{z.code} {z.name}") for z in zones]


@require_http_methods(["GET", "POST"])
@console_view
def space_list(request, lot_id: int):
    actor = request.user
    lot = _lot(request, lot_id)
    ctx = _lot_ctx(request, lot, "spaces")
    zones = list(sel.zone_list(actor=actor, lot_id=lot.pk).order_by("code"))
    which = request.POST.get("form")
    zone_form = ZoneForm(request.POST if which == "zone" else None, prefix="z")
    space_form = SpaceForm(request.POST if which == "space" else None, zones=zones, prefix="s")
    if request.method == "POST":
        if not ctx["can_manage"]:
            check_perm_anywhere(actor, P.MANAGE)
            raise NotFound("parking.lot_not_found")
        form = zone_form if which == "zone" else space_form
        ctx["http"] = 422
        if which in ("zone", "space") and form.is_valid():
            d = form.cleaned_data

            def create():
                if which == "zone":
                    svc.zone_create(actor=actor, lot=lot, code=d["code"], name=d["name"], capacity=d["capacity"])
                else:
                    svc.space_create(actor=actor, lot=lot, number=d["number"], kind=d["kind"], owner=_person(d["owner_id"]),
                                     zone=next((z for z in zones if z.pk == d["zone"]), None))

            done = _submit(request, ctx, create, _("已保存"), "console:parking_spaces", lot_id=lot.pk)
            if done:
                return done
    qs = sel.space_list(actor=actor, lot_id=lot.pk, zone_id=_int(request.GET.get("zone"))).select_related("zone", "owner")
    return render(request, "console/parking/spaces.html", {**ctx, "zones": sel.free_spaces(lot=lot), "zone_form": zone_form,
                                                            "space_form": space_form, **_page(request, qs, order="id")},
                  status=ctx.get("http", 200))


# ---- decision log ---------------------------------------------------------------------------------


@require_GET
@console_view
def event_list(request, lot_id: int):
    lot = _lot(request, lot_id)
    g = request.GET
    plate = plates.normalise(g.get("plate") or "")[:16]
    direction = g.get("direction") if g.get("direction") in Direction.values else ""
    allowed = {"yes": True, "no": False}.get(g.get("allowed") or "")
    qs = sel.event_list(actor=request.user, lot_id=lot.pk, plate=plate or None, direction=direction or None, allowed=allowed)
    page = _page(request, qs)
    for e in page["rows"]:
        e.reason_label = REASONS.get(e.reason, e.reason)
    return render(request, "console/parking/events.html", {**_lot_ctx(request, lot, "events"), "plate": plate, "direction": direction,
                                                            "allowed": g.get("allowed") or "", "directions": Direction.choices, **page})


# ---- guidance screens (K4) --------------------------------------------------------------------------


def _guidance_ctx(lot: ParkingLot) -> dict:
    g = sel.guidance(lot=lot)
    return {"lot": lot, "g": g, "now": timezone.now()}


@require_GET
@console_view
def guidance(request, lot_id: int):
    lot = _lot(request, lot_id)
    if is_htmx(request):
        return render(request, "console/parking/_guidance.html", _guidance_ctx(lot))
    return render(request, "console/parking/guidance.html", {**_guidance_ctx(lot), "refresh_url": reverse("console:parking_guidance",
                                                                                                       args=[lot.pk])})


@require_GET
@never_cache
def wall(request, token: str):
    """The wall display: no login, read-only, a 404 as soon as the display is revoked."""
    try:
        d = sel.display_by_token(token)
    except NotFound as exc:
        raise Http404 from exc
    if is_htmx(request):
        return render(request, "console/parking/_guidance.html", _guidance_ctx(d.lot))
    return render(request, "console/parking/guidance.html", {**_guidance_ctx(d.lot), "wall": True,
                                                            "refresh_url": reverse("console:parking_wall", args=[token])})


@require_POST
@never_cache
@console_view
def display_create(request, lot_id: int):
    lot = _lot(request, lot_id)
    d, raw = svc.display_create(actor=request.user, lot=lot, name=request.POST.get("name", ""))
    url = request.build_absolute_uri(reverse("console:parking_wall", args=[raw]))
    return render(request, "console/parking/display_created.html", {**_lot_ctx(request, lot, "dashboard"), "display": d, "url": url})


@require_POST
@console_view
def display_revoke(request, display_id: int):
    d = sel.display_get(actor=request.user, display_id=display_id)
    svc.display_revoke(actor=request.user, display=d)
    messages.success(request, _("诱导屏“%(n)s”的地址已失效") % {"n": d.name})
    return redirect("console:parking_lot", lot_id=d.lot_id)


# ---- billing rules ------------------------------------------------------------------------------------


def _hhmm(minute: int | None) -> str:
    return "" if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


class RuleForm(forms.Form):
    region = forms.TypedChoiceField(label=_lazy("适用区域"), coerce=int)
    name = forms.CharField(label=_lazy("名称"), max_length=100)
    free_minutes = forms.IntegerField(label=_lazy("免费时长（分钟）"), min_value=0, max_value=1440, initial=15)
    first_minutes = forms.IntegerField(label=_lazy("首段时长（分钟）"), min_value=1, max_value=1440, initial=60)
    first_yuan = forms.DecimalField(label=_lazy("首段价格（元）"), min_value=0, max_value=10000, decimal_places=2, initial=5)
    step_minutes = forms.IntegerField(label=_lazy("续时单位（分钟）"), min_value=1, max_value=1440, initial=60)
    step_yuan = forms.DecimalField(label=_lazy("每续时单位价格（元）"), min_value=0, max_value=10000, decimal_places=2, initial=2)
    daily_cap_yuan = forms.DecimalField(label=_lazy("每24小时封顶（元，可空）"), min_value=0, max_value=100000, decimal_places=2, required=False)
    night_start = forms.TimeField(label=_lazy("夜间开始（可空）"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    night_end = forms.TimeField(label=_lazy("夜间结束（可空）"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    night_yuan = forms.DecimalField(label=_lazy("夜间每晚价格（元）"), min_value=0, max_value=10000, decimal_places=2, initial=0)
    pass_holders_free = forms.BooleanField(label=_lazy("月卡/年卡车免费"), required=False, initial=True)
    visitor_paid_by_host = forms.BooleanField(label=_lazy("访客停车费由被访住户支付"), required=False)

    def __init__(self, *args, regions, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r.pk, r.name) for r in regions]
        if editing:
            self.fields["region"].disabled = True

    def clean(self):
        d = super().clean()
        if (d.get("night_start") is None) != (d.get("night_end") is None):
            raise forms.ValidationError(_("夜间时段须同时填写开始与结束"))
        return d

    def terms(self) -> dict:
        d = self.cleaned_data

        def fen(v):
            return None if v is None else int(round(v * 100))

        def minute(t):
            return None if t is None else t.hour * 60 + t.minute

        return {"free_minutes": d["free_minutes"], "first_minutes": d["first_minutes"], "first_fen": fen(d["first_yuan"]),
                "step_minutes": d["step_minutes"], "step_fen": fen(d["step_yuan"]), "daily_cap_fen": fen(d["daily_cap_yuan"]),
                "night_start_minute": minute(d["night_start"]), "night_end_minute": minute(d["night_end"]), "night_fen": fen(d["night_yuan"]),
                "pass_holders_free": d["pass_holders_free"], "visitor_paid_by_host": d["visitor_paid_by_host"]}

    @staticmethod
    def initial_of(rule) -> dict:
        return {"region": rule.region_id, "name": rule.name, "free_minutes": rule.free_minutes, "first_minutes": rule.first_minutes,
                "first_yuan": rule.first_fen / 100, "step_minutes": rule.step_minutes, "step_yuan": rule.step_fen / 100,
                "daily_cap_yuan": None if rule.daily_cap_fen is None else rule.daily_cap_fen / 100,
                "night_start": _hhmm(rule.night_start_minute), "night_end": _hhmm(rule.night_end_minute), "night_yuan": rule.night_fen / 100,
                "pass_holders_free": rule.pass_holders_free, "visitor_paid_by_host": rule.visitor_paid_by_host}


@require_GET
@console_view
def rule_list(request):
    actor = request.user
    check_perm_anywhere(actor, P.VIEW)
    qs = sel.rule_list(actor=actor).select_related("region").annotate(n_lots=Count("lots"))
    page = _page(request, qs)
    for r in page["rows"]:
        r.night = f"{_hhmm(r.night_start_minute)}–{_hhmm(r.night_end_minute)}" if r.night_start_minute is not None else ""
        r.can_edit = covers(actor, P.MANAGE, r.region.path)
    return render(request, "console/parking/rules.html", {"can_manage": has_perm_anywhere(actor, P.MANAGE), **page})


@require_http_methods(["GET", "POST"])
@console_view
def rule_edit(request, rule_id: int | None = None):
    actor = request.user
    check_perm_anywhere(actor, P.MANAGE)
    rule = sel.rule_get(actor=actor, rule_id=rule_id) if rule_id else None
    if rule is not None and not covers(actor, P.MANAGE, rule.region.path):
        raise NotFound("parking.rule_not_found")
    regions = [rule.region] if rule else _regions(actor, P.MANAGE, ("district", "street", "community"))
    form = RuleForm(request.POST or None, regions=regions, editing=rule is not None, initial=RuleForm.initial_of(rule) if rule else None)
    ctx: dict = {"form": form, "rule": rule}
    if request.method == "POST":
        if form.is_valid():
            try:
                if rule is None:
                    region = next(r for r in regions if r.pk == form.cleaned_data["region"])
                    svc.rule_create(actor=actor, region=region, name=form.cleaned_data["name"], **form.terms())
                else:
                    svc.rule_update(actor=actor, rule=rule, name=form.cleaned_data["name"], **form.terms())
            except DomainError as exc:
                if exc.status in (403, 404):
                    raise
                return render(request, "console/parking/rule_form.html", {**ctx, "error": exc}, status=exc.status)
            messages.success(request, _("收费规则已保存，新规则即时生效"))
            return redirect("console:parking_rules")
        return render(request, "console/parking/rule_form.html", ctx, status=422)
    return render(request, "console/parking/rule_form.html", ctx)


# ---- vehicles -----------------------------------------------------------------------------------------


@require_GET
@console_view
def vehicle_list(request):
    actor = request.user
    check_perm_anywhere(actor, P.VIEW)
    plate = plates.normalise(request.GET.get("plate") or "")[:8]
    qs = sel.vehicle_list(actor=actor, plate=plate or None).select_related("owner")
    return render(request, "console/parking/vehicles.html", {"plate": plate, **_page(request, qs)})


# ---- plate flags and alarms ---------------------------------------------------------------------------


class FlagForm(forms.Form):
    region = forms.TypedChoiceField(label=_lazy("适用区域"), coerce=int)
    plate = forms.CharField(label=_lazy("车牌"), max_length=12)
    kind = forms.ChoiceField(label=_lazy("类型"), choices=FlagKind.choices)
    reason = forms.CharField(label=_lazy("原因"), max_length=200)

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r.pk, r.name) for r in regions]


@require_http_methods(["GET", "POST"])
@console_view
def flag_list(request):
    actor = request.user
    check_perm_anywhere(actor, P.FLAG)
    regions = _regions(actor, P.FLAG, ("city", "district", "street", "community"))
    form = FlagForm(request.POST or None, regions=regions)
    ctx: dict = {"form": form}
    if request.method == "POST":
        ctx["http"] = 422
        if form.is_valid():
            d = form.cleaned_data

            def create():
                region = next((r for r in regions if r.pk == d["region"]), None)
                if region is None:
                    raise NotFound("parking.region_not_found")
                svc.flag_add(actor=actor, region=region, plate=d["plate"], kind=d["kind"], reason=d["reason"])

            done = _submit(request, ctx, create, _("已布控，所有相关停车场即时生效"), "console:parking_flags")
            if done:
                return done
    qs = sel.flag_list(actor=actor, active=True).select_related("region")
    return render(request, "console/parking/flags.html", {**ctx, **_page(request, qs)}, status=ctx.get("http", 200))


@require_POST
@console_view
def flag_remove(request, flag_id: int):
    f = sel.flag_get(actor=request.user, flag_id=flag_id)
    svc.flag_remove(actor=request.user, flag=f)
    messages.success(request, _("已撤销对 %(p)s 的布控") % {"p": f.plate})
    return redirect("console:parking_flags")


@require_GET
@console_view
def alarm_list(request):
    actor = request.user
    check_perm_anywhere(actor, P.FLAG)
    open_only = request.GET.get("state") != "all"
    qs = sel.alarm_list(actor=actor, open_only=open_only).select_related("lot")
    return render(request, "console/parking/alarms.html", {"open_only": open_only, **_page(request, qs)})


@require_POST
@console_view
def alarm_ack(request, alarm_id: int):
    a = svc.alarm_acknowledge(actor=request.user, alarm=sel.alarm_get(actor=request.user, alarm_id=alarm_id))
    if is_htmx(request):
        a = sel.alarm_list(actor=request.user).select_related("lot").get(pk=a.pk)
        return render(request, "console/parking/_alarm_row.html", {"a": a, "done": True})
    messages.success(request, _("告警已确认"))
    back = request.POST.get("back") or ""
    return redirect(back if back.startswith("/console/parking/") else "console:parking_alarms")
