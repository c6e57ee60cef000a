"""Console pages for access control (/console/access/, A1–A5): the gate console (groups and gates in
scope, a live event feed per gate polled by htmx every 3 s and refreshed at once by the "access" live
stream on a denied entry or a visitor's arrival, statistics per gate and hour, last seen),
credentials per person (issue card / PIN / biometric reference, suspend, revoke, set expiry), rules
(time windows, holidays, temporary blocks), the visitor desk and the watch list with its alarms.

Views parse input, call linli.access selectors/services and render. Out of scope ⇒ 404; no permission
at all ⇒ 403; service errors are shown next to the form (4xx status) or as the error page.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.access import decision
from linli.access import selectors as sel
from linli.access import services as svc
from linli.access.models import (
    BIOMETRIC_KINDS,
    Audience,
    CredentialKind,
    GateKind,
    GroupLevel,
    InviteStatus,
    WatchKind,
    WatchPolicy,
)
from linli.access.perms import AccessPerm as P
from linli.core.errors import DomainError, Invalid, NotFound
from linli.core.i18n import Msg
from linli.orgs.models import Role
from linli.orgs.perms import check_perm_anywhere, covers
from linli.orgs.selectors import has_perm_anywhere
from linli.people.models import Consent, Person, Residency
from linli.places.models import Building, Estate, House, Region

from .access import console_view, is_htmx
from .streams import live_stream_response, live_url
from .views_iot import _int, _page  # the console's int parsing and 50-row cursor page

FEED_SIZE = 30
WEEKDAYS = [(0, _lazy("周一")), (1, _lazy("周二")), (2, _lazy("周三")), (3, _lazy("周四")), (4, _lazy("周五")), (5, _lazy("周六")),
            (6, _lazy("周日")), (7, _lazy("节假日"))]


def _perms(actor) -> dict[str, bool]:
    """Which sections the navigation shows (held anywhere)."""
    return {name: has_perm_anywhere(actor, perm) for name, perm in (
        ("view", P.VIEW), ("manage", P.MANAGE), ("issue", P.CREDENTIAL_ISSUE), ("log", P.LOG_VIEW), ("desk", P.VISITOR_DESK),
        ("watch", P.WATCH_LIST))}


def _render(request, template: str, ctx: dict, status: int = 200):
    return render(request, template, {"can": _perms(request.user), **ctx}, status=status)


def _minute(value: str) -> int:
    """'HH:MM' → minutes after midnight ('24:00' allowed as an end)."""
    try:
        h, m = (int(x) for x in (value or "").split(":", 1))
    except ValueError as exc:
        raise Invalid("access.rule_window", Msg("时间格式应为 时:分", "Times are HH:MM")) from exc
    if not (0 <= h <= 24 and 0 <= m < 60) or h * 60 + m > 1440:
        raise Invalid("access.rule_window", Msg("时段无效", "Invalid time window"))
    return h * 60 + m


def _local_dt(value: str) -> dt.datetime | None:
    """A datetime-local input (Asia/Shanghai) → aware datetime; empty → None."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=decision.TZ)
    except ValueError as exc:
        raise Invalid("access.datetime", Msg("日期时间格式不正确", "Invalid date and time")) from exc


def _post_action(request, fn, ok: str, back: str):
    """Run a write; on a 4xx show the message on the page we came back to (403/404 stay error pages)."""
    try:
        fn()
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, ok)
    return redirect(back)


@require_GET
@console_view
def access_home(request):
    can = _perms(request.user)
    if can["view"] or can["log"]:
        return redirect("console:access_gates")
    if can["desk"]:
        return redirect("console:access_visitors")
    if can["issue"]:
        return redirect("console:access_people")
    check_perm_anywhere(request.user, P.WATCH_LIST)
    return redirect("console:access_watch")


# ---- gates ------------------------------------------------------------------------------------------


def _gates_in_scope(actor) -> list:
    """Gates the actor may see: by access.view, else (log viewers) those where events are visible."""
    if has_perm_anywhere(actor, P.VIEW):
        return list(sel.gate_list(actor=actor).order_by("group__name", "name")[:500])
    check_perm_anywhere(actor, P.LOG_VIEW)
    from linli.access.models import Gate

    return list(Gate.objects.for_actor(actor, P.LOG_VIEW).select_related("group").order_by("group__name", "name")[:500])


@require_GET
@console_view
def gates(request):
    actor = request.user
    rows = _gates_in_scope(actor)
    totals: dict[int, dict[str, int]] = {}
    if has_perm_anywhere(actor, P.LOG_VIEW):
        until = timezone.now()
        for r in sel.stats_per_gate_hour(actor=actor, since=until - dt.timedelta(hours=24), until=until):
            t = totals.setdefault(r["gate_id"], {"allowed": 0, "denied": 0})
            t["allowed"] += r["allowed"]
            t["denied"] += r["denied"]
    groups: dict[int, dict] = {}
    for g in rows:
        groups.setdefault(g.group_id, {"group": g.group, "gates": []})["gates"].append({"g": g, "t": totals.get(g.pk)})
    open_alarms = sel.alarm_list(actor=actor, open_only=True).count() if has_perm_anywhere(actor, P.WATCH_LIST) else 0
    ctx = {"groups": list(groups.values()), "open_alarms": open_alarms, "truncated": len(rows) >= 500}
    if has_perm_anywhere(actor, P.MANAGE):
        ctx["group_choices"] = list(sel.group_list(actor=actor).order_by("name")[:500])
        ctx["estates"] = list(Estate.objects.for_actor(actor, P.MANAGE).order_by("name")[:500])
        ctx["kinds"] = GateKind.choices
        ctx["levels"] = GroupLevel.choices
    return _render(request, "console/access/gates.html", ctx)


@require_POST
@never_cache
@console_view
def gate_create(request):
    """New group or gate (access.manage); a new gate's device token is shown once."""
    actor, p = request.user, request.POST
    check_perm_anywhere(actor, P.MANAGE)
    back = reverse("console:access_gates")
    try:
        if p.get("what") == "group":
            estate = Estate.objects.select_related("region").filter(pk=_int(p.get("estate")) or 0).first()
            if estate is None:
                raise NotFound("access.estate_not_found")
            building = Building.objects.select_related("region").filter(pk=_int(p.get("building")) or 0, estate=estate).first()
            svc.gate_group_create(actor=actor, code=(p.get("code") or "").strip()[:40], name=(p.get("name") or "").strip()[:100],
                                  level=p.get("level") or "", estate=estate, building=building,
                                  unit=building.units.filter(number=(p.get("unit") or "").strip()).first() if building and p.get("unit") else None)
            messages.success(request, _("门禁组已创建"))
            return redirect(back)
        group = sel.group_get(actor=actor, group_id=_int(p.get("group")) or 0)
        gate, raw = svc.gate_create(actor=actor, code=(p.get("code") or "").strip()[:40], name=(p.get("name") or "").strip()[:100],
                                    group=group, kind=p.get("kind") or GateKind.DOOR, device_serial=(p.get("device_serial") or "").strip()[:64])
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
        return redirect(back)
    return _render(request, "console/access/gate_token.html", {"gate": gate, "token": raw})


def _hour_chart(rows: list[dict], since: dt.datetime, hours: int) -> dict:
    """Allowed/denied per local hour for the chart and its text alternative (chart_summary)."""
    start = since.astimezone(decision.TZ).replace(minute=0, second=0, microsecond=0)
    slots = [start + dt.timedelta(hours=i) for i in range(hours + 1)]
    by = {r["hour"].astimezone(decision.TZ): r for r in rows}
    labels = [s.strftime("%m-%d %H:00") for s in slots]
    allowed = [by[s]["allowed"] if s in by else 0 for s in slots]
    denied = [by[s]["denied"] if s in by else 0 for s in slots]
    busy = [(lab, a, d) for lab, a, d in zip(labels, allowed, denied, strict=True) if a or d]
    return {"title": _("逐小时通行（通过/拒绝）"), "labels": [b[0] for b in busy],
            "values": [_("通过%(a)s 拒绝%(d)s") % {"a": a, "d": d} for _lab, a, d in busy],
            "series": {"labels": labels, "allowed": allowed, "denied": denied}}


@require_GET
@console_view
def gate_detail(request, gate_id: int):
    actor = request.user
    gate = _gate_for(actor, gate_id)
    ctx: dict = {"gate": gate, "can_manage": covers(actor, P.MANAGE, gate.region.path), "can_log": covers(actor, P.LOG_VIEW, gate.region.path)}
    if ctx["can_log"]:
        until = timezone.now()
        since = until - dt.timedelta(hours=24)
        ctx["chart"] = _hour_chart(sel.stats_per_gate_hour(actor=actor, since=since, until=until, gate_id=gate.pk), since, 24)
        ctx["events"] = sel.gate_feed(actor=actor, gate_id=gate.pk, limit=FEED_SIZE)
        ctx["live_url"] = live_url("console:access_stream")
    return _render(request, "console/access/gate.html", ctx)


def _gate_for(actor, gate_id: int):
    if has_perm_anywhere(actor, P.VIEW):
        return sel.gate_get(actor=actor, gate_id=gate_id)
    check_perm_anywhere(actor, P.LOG_VIEW)
    from linli.access.models import Gate

    gate = Gate.objects.for_actor(actor, P.LOG_VIEW).select_related("region", "group").filter(pk=gate_id).first()
    if gate is None:
        raise NotFound("access.gate_not_found")
    return gate


@require_GET
@console_view
def gate_feed(request, gate_id: int):
    """The event table body of one gate (htmx polls it every 3 s): newest first, person masked."""
    actor = request.user
    check_perm_anywhere(actor, P.LOG_VIEW)
    if not is_htmx(request):
        return redirect("console:access_gate", gate_id=gate_id)
    gate = _gate_for(actor, gate_id)
    return render(request, "console/access/_events.html", {"events": sel.gate_feed(actor=actor, gate_id=gate.pk, limit=FEED_SIZE)})


# The pages on the live channel and who may read what they show: the gate feed (log viewers), the
# visitor desk's list of today's visitors, the watch-list alarms.
STREAM_PERMS = (P.LOG_VIEW, P.VISITOR_DESK, P.VIEW, P.WATCH_LIST)
STREAM_KINDS = {"denied": (P.LOG_VIEW,), "visitor_arrived": (P.LOG_VIEW,), "uploaded": (P.LOG_VIEW,),
                "visitor": (P.VISITOR_DESK, P.VIEW), "watch_hit": (P.WATCH_LIST,), "alarm_acknowledged": (P.WATCH_LIST,)}


@require_GET
@console_view
def access_stream(request):
    """Server-sent events: a denied entry, a visitor's arrival or registration, a watch-list hit in the
    viewer's scope (204 without a live backend: the pages keep polling)."""
    return live_stream_response(request, ["access"], STREAM_PERMS, STREAM_KINDS)


@require_POST
@never_cache
@console_view
def gate_action(request, gate_id: int, action: str):
    actor = request.user
    gate = sel.gate_get(actor=actor, gate_id=gate_id)
    back = reverse("console:access_gate", args=[gate.pk])
    if action == "token":
        raw = svc.gate_token_reset(actor=actor, gate=gate)
        return _render(request, "console/access/gate_token.html", {"gate": gate, "token": raw})
    if action in ("enable", "disable"):
        return _post_action(request, lambda: svc.gate_update(actor=actor, gate=gate, is_active=action == "enable"), _("已保存"), back)
    raise NotFound("access.action_unknown")


@require_GET
@console_view
def last_seen(request):
    """Last time a person passed a gate (A5), looked up by name or last 4 digits of ID/phone."""
    actor = request.user
    check_perm_anywhere(actor, P.LOG_VIEW)
    q = (request.GET.get("q") or "").strip()[:60]
    people = sel.person_lookup(actor=actor, perm=P.LOG_VIEW, q=q) if q else []
    seen = sel.last_seen_many([p.pk for p in people])
    return _render(request, "console/access/last_seen.html", {"q": q, "rows": [{"p": p, "at": seen.get(p.pk)} for p in people]})


# ---- credentials (A1) ----------------------------------------------------------------------------


@require_GET
@console_view
def people(request):
    actor = request.user
    if not has_perm_anywhere(actor, P.CREDENTIAL_ISSUE):
        check_perm_anywhere(actor, P.VIEW)
    perm = P.CREDENTIAL_ISSUE if has_perm_anywhere(actor, P.CREDENTIAL_ISSUE) else P.VIEW
    q = (request.GET.get("q") or "").strip()[:60]
    return _render(request, "console/access/people.html", {"q": q, "rows": sel.person_lookup(actor=actor, perm=perm, q=q) if q else []})


def _person_for(actor, person_id: int) -> Person:
    """The person, when in the actor's credential-issue or access-view scope (403 with neither perm, else 404)."""
    perms = [perm for perm in (P.CREDENTIAL_ISSUE, P.VIEW) if has_perm_anywhere(actor, perm)]
    if not perms:
        check_perm_anywhere(actor, P.VIEW)
    for perm in perms:
        person = Person.objects.for_actor(actor, perm).select_related("region").filter(pk=person_id).first()
        if person is not None:
            return person
    raise NotFound("access.person_not_found")


class IssueForm(forms.Form):
    kind = forms.ChoiceField(label=_lazy("凭证类型"), choices=[(k, v) for k, v in CredentialKind.choices if k != CredentialKind.QR])
    house = forms.TypedChoiceField(label=_lazy("房屋"), coerce=int, required=False, empty_value=None)
    value = forms.CharField(label=_lazy("卡号 / 密码（6–8位数字）"), max_length=32, required=False,
                            widget=forms.TextInput(attrs={"autocomplete": "off"}))
    template_ref = forms.CharField(label=_lazy("人脸/指纹模板引用编号"), max_length=128, required=False)
    valid_until = forms.DateTimeField(label=_lazy("失效时间（可空）"), required=False,
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


def _person_ctx(request, person: Person) -> dict:
    actor = request.user
    creds = list(sel.credential_list(actor=actor, person_id=person.pk).select_related("house").order_by("-id")[:100]) \
        if has_perm_anywhere(actor, P.VIEW) else []
    homes = list(Residency.objects.filter(person=person, move_out__isnull=True).select_related("house").order_by("id"))
    consents = set(Consent.objects.filter(person=person, withdrawn_at__isnull=True).values_list("purpose", flat=True))
    live = [c for c in creds if c.status != "revoked"]
    has_bio = any(c.kind in BIOMETRIC_KINDS for c in live)
    has_other = any(c.kind not in BIOMETRIC_KINDS and c.status == "active" for c in live)
    form = IssueForm(request.POST or None)
    form.fields["house"].choices = [("", _("（工作人员，无房屋）"))] + [(r.house_id, r.house.address) for r in homes]
    if homes:
        form.fields["house"].initial = homes[0].house_id
    return {
        "person": person, "creds": creds, "homes": homes, "form": form,
        "consent_face": "biometric_face" in consents, "consent_fingerprint": "biometric_fingerprint" in consents,
        "face_only": has_bio and not has_other,
        "can_issue": covers(actor, P.CREDENTIAL_ISSUE, person.region.path), "can_manage": covers(actor, P.MANAGE, person.region.path),
        "blocks": list(sel.block_list(actor=actor, person_id=person.pk, active=True).select_related("group").order_by("-id")[:20])
        if has_perm_anywhere(actor, P.VIEW) else [],
        "last_seen": sel.last_seen(person.pk) if covers(actor, P.LOG_VIEW, person.region.path) else None,
    }


@require_http_methods(["GET", "POST"])
@console_view
def person_detail(request, person_id: int):
    actor = request.user
    person = _person_for(actor, person_id)
    ctx = _person_ctx(request, person)
    if request.method == "POST":
        form = ctx["form"]
        if not form.is_valid():
            return _render(request, "console/access/person.html", ctx, status=400)
        d = form.cleaned_data
        try:
            house = House.objects.select_related("region").filter(pk=d["house"]).first() if d["house"] else None
            c = svc.credential_issue(actor=actor, person=person, kind=d["kind"], house=house, value=d["value"],
                                     template_ref=d["template_ref"],
                                     valid_until=d["valid_until"].replace(tzinfo=decision.TZ) if d["valid_until"] and timezone.is_naive(d["valid_until"])
                                     else d["valid_until"])
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            return _render(request, "console/access/person.html", {**ctx, "error": exc}, status=exc.status)
        if c.kind in BIOMETRIC_KINDS and not svc.other_ways_in(person):
            messages.warning(request, _("人脸/指纹不能作为唯一通行方式：请同时为其发放门卡，或告知其可在居民端使用二维码通行。"))
        else:
            messages.success(request, _("凭证已发放"))
        return redirect("console:access_person", person_id=person.pk)
    return _render(request, "console/access/person.html", ctx)


@require_POST
@console_view
def credential_action(request, credential_id: int, action: str):
    actor = request.user
    c = sel.credential_get(actor=actor, credential_id=credential_id)
    reason = (request.POST.get("reason") or "").strip()[:200]
    fns = {"suspend": svc.credential_suspend, "reactivate": svc.credential_reactivate, "revoke": svc.credential_revoke}
    back = reverse("console:access_person", args=[c.person_id])
    if action == "expiry":
        return _post_action(request, lambda: svc.credential_set_expiry(
            actor=actor, credential=c, valid_until=_local_dt(request.POST.get("valid_until") or "")), _("失效时间已更新"), back)
    if action not in fns:
        raise NotFound("access.action_unknown")
    return _post_action(request, lambda: fns[action](actor=actor, credential=c, reason=reason), _("已保存，立即生效"), back)


# ---- rules, holidays, blocks (A2) --------------------------------------------------------------------


@require_GET
@console_view
def rules(request):
    actor = request.user
    check_perm_anywhere(actor, P.VIEW)
    groups = list(sel.group_list(actor=actor).order_by("name")[:300])
    by_group: dict[int, list] = {}
    for r in sel.rule_list(actor=actor).filter(group_id__in=[g.pk for g in groups]).order_by("group_id", "start_minute"):
        r.days = [str(label) for bit, label in WEEKDAYS if r.weekdays >> bit & 1]
        r.window = f"{r.start_minute // 60:02d}:{r.start_minute % 60:02d}–{r.end_minute // 60:02d}:{r.end_minute % 60:02d}"
        by_group.setdefault(r.group_id, []).append(r)
    return _render(request, "console/access/rules.html", {
        "groups": [{"g": g, "rules": by_group.get(g.pk, [])} for g in groups],
        "holidays": list(sel.holiday_list(actor=actor).select_related("region").order_by("-date")[:100]),
        "blocks": list(sel.block_list(actor=actor, active=True).select_related("person", "group").order_by("-id")[:100]),
        "regions": list(Region.objects.for_actor(actor, P.MANAGE).order_by("path")[:200]) if has_perm_anywhere(actor, P.MANAGE) else [],
        "roles": list(Role.objects.order_by("name")) if has_perm_anywhere(actor, P.MANAGE) else [],
        "weekdays": WEEKDAYS, "audiences": Audience.choices,
    })


def _rule_create(actor, p) -> None:
    group = sel.group_get(actor=actor, group_id=_int(p.get("group")) or 0)
    mask = sum(1 << int(b) for b in p.getlist("weekdays") if b.isdigit() and int(b) < 8)
    role = Role.objects.filter(pk=_int(p.get("role")) or 0).first() if p.get("audience") == Audience.STAFF else None
    if not mask:
        raise Invalid("access.rule_weekdays", Msg("请至少选择一天", "Pick at least one day"))
    svc.rule_create(actor=actor, group=group, audience=p.get("audience") or Audience.RESIDENTS, role=role, weekdays=mask,
                    start_minute=_minute(p.get("start") or ""), end_minute=_minute(p.get("end") or ""), name=(p.get("name") or "")[:100])


def _block_add(actor, p) -> None:
    group = sel.group_get(actor=actor, group_id=_int(p.get("group"))) if _int(p.get("group")) else None
    person = None
    if _int(p.get("person")):
        person = Person.objects.for_actor(actor, P.MANAGE).select_related("region").filter(pk=_int(p.get("person"))).first()
        if person is None:
            raise NotFound("access.person_not_found")
    svc.block_add(actor=actor, reason=p.get("reason") or "", person=person, group=group, starts_at=_local_dt(p.get("starts_at") or ""),
                  ends_at=_local_dt(p.get("ends_at") or ""))


def _holiday_add(actor, p) -> None:
    region = Region.objects.filter(pk=_int(p.get("region")) or 0).first()
    if region is None:
        raise NotFound("access.region_not_found")
    try:
        day = dt.date.fromisoformat(p.get("date") or "")
    except ValueError as exc:
        raise Invalid("access.date", Msg("日期格式不正确", "Invalid date")) from exc
    svc.holiday_add(actor=actor, region=region, date=day, name=(p.get("name") or "").strip() or str(day))


@require_POST
@console_view
def rule_action(request, action: str):
    """Create/delete rules, add/remove holidays, add/lift blocks (all through the services, audited)."""
    actor, p = request.user, request.POST
    check_perm_anywhere(actor, P.MANAGE)
    back = request.POST.get("back") if (request.POST.get("back") or "").startswith("/console/access/") else reverse("console:access_rules")
    ops = {
        "rule_create": (lambda: _rule_create(actor, p), _("规则已添加")),
        "rule_delete": (lambda: svc.rule_delete(actor=actor, rule=sel.rule_get(actor=actor, rule_id=_int(p.get("id")) or 0)), _("规则已删除")),
        "holiday_add": (lambda: _holiday_add(actor, p), _("节假日已添加")),
        "holiday_remove": (lambda: svc.holiday_remove(actor=actor, holiday=sel.holiday_get(actor=actor, holiday_id=_int(p.get("id")) or 0)),
                           _("节假日已删除")),
        "block_add": (lambda: _block_add(actor, p), _("临时禁行已生效")),
        "block_lift": (lambda: svc.block_remove(actor=actor, block=sel.block_get(actor=actor, block_id=_int(p.get("id")) or 0)), _("禁行已解除")),
    }
    if action not in ops:
        raise NotFound("access.action_unknown")
    fn, ok = ops[action]
    return _post_action(request, fn, ok, back)


# ---- visitor desk (A4) -----------------------------------------------------------------------------


def _desk_gates(actor) -> list:
    from linli.access.models import Gate

    return list(Gate.objects.for_actor(actor, P.VISITOR_DESK).filter(is_active=True).order_by("name")[:200])


def _today(actor):
    start = timezone.now().astimezone(decision.TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    from linli.access.models import VisitorInvite

    perm = P.VISITOR_DESK if has_perm_anywhere(actor, P.VISITOR_DESK) else P.VIEW
    return (VisitorInvite.objects.for_actor(actor, perm).filter(valid_until__gte=start, valid_from__lt=start + dt.timedelta(days=1))
            .select_related("house", "watch_hit").order_by("-id"))


@require_GET
@console_view
def visitors(request):
    actor = request.user
    if not has_perm_anywhere(actor, P.VISITOR_DESK):
        check_perm_anywhere(actor, P.VIEW)
    hq = (request.GET.get("house_q") or "").strip()[:60]
    houses = list(House.objects.for_actor(actor, P.VISITOR_DESK).filter(address__contains=hq).order_by("address")[:20]) if hq else []
    page = _page(request, _today(actor))
    return _render(request, "console/access/visitors.html", {
        "gates": _desk_gates(actor) if has_perm_anywhere(actor, P.VISITOR_DESK) else [], "house_q": hq, "houses": houses,
        "id_types": [("resident_id", _("居民身份证")), ("passport", _("护照")), ("hk_macao_permit", _("港澳居民来往内地通行证"))], **page,
        "live_url": live_url("console:access_stream"),
    })


@require_POST
@console_view
def visitor_register(request):
    actor, p = request.user, request.POST
    check_perm_anywhere(actor, P.VISITOR_DESK)
    try:
        from linli.access.models import Gate

        gate = Gate.objects.for_actor(actor, P.VISITOR_DESK).select_related("region").filter(pk=_int(p.get("gate")) or 0).first()
        house = House.objects.for_actor(actor, P.VISITOR_DESK).select_related("region", "building").filter(pk=_int(p.get("house")) or 0).first()
        if gate is None:
            raise Invalid("access.gate_required", Msg("请选择登记门岗", "Pick the gate"))
        if house is None:
            raise Invalid("access.house_required", Msg("请先查找并选择被访房屋", "Find and pick the house visited"))
        inv = svc.visitor_register_at_gate(actor=actor, gate=gate, house=house, visitor_name=p.get("visitor_name") or "",
                                           id_type=p.get("id_type") or "resident_id", id_number=p.get("id_number") or "",
                                           visitor_phone=p.get("visitor_phone") or "", plate=p.get("plate") or "",
                                           hours=_int(p.get("hours")) or 4)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
        return redirect(reverse("console:access_visitors") + ("?house_q=" + p.get("house_q", "") if p.get("house_q") else ""))
    return redirect("console:access_visitor", invite_id=inv.pk)


@require_GET
@console_view
def visitor_detail(request, invite_id: int):
    actor = request.user
    inv = _desk_invite(actor, invite_id)
    token = None
    if inv.status == InviteStatus.CONFIRMED and inv.valid_until > timezone.now():
        token, _exp = svc.visitor_pass(invite=inv)
    alarms = list(inv.alarms.order_by("-id")) if has_perm_anywhere(actor, P.WATCH_LIST) or has_perm_anywhere(actor, P.VISITOR_DESK) else []
    return _render(request, "console/access/visitor.html", {
        "inv": inv, "token": token, "alarms": alarms, "can_desk": covers(actor, P.VISITOR_DESK, inv.region.path)})


def _desk_invite(actor, invite_id: int):
    from linli.access.models import VisitorInvite

    perm = P.VISITOR_DESK if has_perm_anywhere(actor, P.VISITOR_DESK) else P.VIEW
    check_perm_anywhere(actor, perm)
    inv = (VisitorInvite.objects.for_actor(actor, perm).select_related("region", "house__building", "gate", "watch_hit", "host_person")
           .filter(pk=invite_id).first())
    if inv is None:
        raise NotFound("access.invite_not_found")
    return inv


@require_POST
@console_view
def visitor_action(request, invite_id: int, action: str):
    """The desk confirms/refuses on the host's behalf (after phoning them) or cancels."""
    actor = request.user
    inv = _desk_invite(actor, invite_id)
    back = reverse("console:access_visitor", args=[inv.pk])
    if action in ("confirm", "refuse"):
        return _post_action(request, lambda: svc.host_confirm(actor=actor, invite=inv, accept=action == "confirm"), _("已保存"), back)
    if action == "cancel":
        return _post_action(request, lambda: svc.visitor_cancel(actor=actor, invite=inv), _("已取消"), back)
    raise NotFound("access.action_unknown")


# ---- watch list and alarms -------------------------------------------------------------------------


@require_GET
@console_view
def watch(request):
    actor = request.user
    check_perm_anywhere(actor, P.WATCH_LIST)
    page = _page(request, sel.watch_list(actor=actor).select_related("region"))
    return _render(request, "console/access/watch.html", {
        "alarms": list(sel.alarm_list(actor=actor, open_only=True).select_related("visitor_invite", "watch_entry").order_by("-id")[:50]),
        "regions": list(Region.objects.for_actor(actor, P.WATCH_LIST).order_by("path")[:200]),
        "kinds": WatchKind.choices, "policies": WatchPolicy.choices, **page, "live_url": live_url("console:access_stream"),
    })


def _watch_add(actor, p) -> None:
    region = Region.objects.filter(pk=_int(p.get("region")) or 0).first()
    if region is None:
        raise NotFound("access.region_not_found")
    svc.watch_add(actor=actor, region=region, kind=p.get("kind") or "", reason=p.get("reason") or "", policy=p.get("policy") or WatchPolicy.DENY,
                  id_number=p.get("id_number") or "", plate=p.get("plate") or "", source=(p.get("source") or "").strip())


@require_POST
@console_view
def watch_action(request, action: str):
    actor, p = request.user, request.POST
    check_perm_anywhere(actor, P.WATCH_LIST)
    back = reverse("console:access_watch")
    if action == "add":
        return _post_action(request, lambda: _watch_add(actor, p), _("已加入关注名单"), back)
    if action == "remove":
        return _post_action(request, lambda: svc.watch_remove(actor=actor, entry=sel.watch_get(actor=actor, entry_id=_int(p.get("id")) or 0)),
                            _("已移出关注名单"), back)
    if action == "ack":
        return _post_action(request, lambda: svc.alarm_acknowledge(actor=actor, alarm=sel.alarm_get(actor=actor, alarm_id=_int(p.get("id")) or 0)),
                            _("告警已确认"), back)
    raise NotFound("access.action_unknown")

