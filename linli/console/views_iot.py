"""Console pages for devices and alarms (/console/iot/, D1 D3 D4 D6): device list, map and detail with
telemetry charts and a credentials reset; the alarm console (live feed polled by htmx every 5 s, with
acknowledge / clear); the rule editor (type defaults and per-device overrides, threshold rules).

Views parse input, call linli.iot selectors/services and render. Out of scope ⇒ 404; no permission at
all ⇒ 403 (check_perm_anywhere); service errors are shown next to the form or as the error page.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.cases.integrations import case_links
from linli.core.errors import DomainError, NotFound
from linli.core.pagination import paginate
from linli.iot import environment as iot_env
from linli.iot import rpc as iot_rpc
from linli.iot import selectors as iot
from linli.iot import services as iot_services
from linli.iot.models import DeviceStatus, DeviceType, RuleKind, Severity
from linli.iot.perms import IotPerm
from linli.iot.rules import OPS
from linli.orgs.perms import check_perm_anywhere, covers
from linli.orgs.selectors import has_perm_anywhere, holds_at_root
from linli.places import selectors as places

from .access import console_view, is_htmx
from .streams import live_stream_response, live_url

PAGE_SIZE = 50
RANGES = {"1h": dt.timedelta(hours=1), "6h": dt.timedelta(hours=6), "24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7),
          "30d": dt.timedelta(days=30), "90d": dt.timedelta(days=90), "365d": dt.timedelta(days=365)}
RANGE_LABELS = {"1h": _("最近1小时"), "6h": _("最近6小时"), "24h": _("最近24小时（5分钟汇总）"), "7d": _("最近7天（1小时汇总）"),
                "30d": _("最近30天（1小时汇总）"), "90d": _("最近90天（按天汇总）"), "365d": _("最近1年（按天汇总）")}
RESOLUTION_LABELS = {"raw": _("原始读数"), "5m": _("5分钟均值"), "1h": _("1小时均值"), "1d": _("日均值")}
MAP_LIMIT = 2000


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _choice(value, allowed) -> str:
    return value if value in allowed else ""


def _page(request, qs, order: str = "-id") -> dict:
    rows, next_cursor = paginate(qs, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, order=order)
    return {"rows": rows, "next_cursor": next_cursor, "is_first_page": not request.GET.get("cursor")}


@require_GET
@console_view
def iot_home(request):
    actor = request.user
    if has_perm_anywhere(actor, IotPerm.DEVICE_VIEW):
        return redirect("console:iot_devices")
    check_perm_anywhere(actor, IotPerm.ALARM_VIEW)
    return redirect("console:iot_alarms")


# ---- devices -------------------------------------------------------------------------------------


@require_GET
@console_view
def device_list(request):
    actor = request.user
    check_perm_anywhere(actor, IotPerm.DEVICE_VIEW)
    g = request.GET
    types = list(DeviceType.objects.order_by("name").values_list("code", "name"))
    f = {
        "type": _choice(g.get("type"), {c for c, _n in types}),
        "status": _choice(g.get("status"), DeviceStatus.values),
        "online": _choice(g.get("online"), {"online", "offline"}),
        "region": _int(g.get("region")),
        "q": (g.get("q") or "").strip()[:64],
    }
    now = timezone.now()
    cutoffs = iot.online_cutoffs(now=now)
    qs = iot.device_list(actor=actor, region_id=f["region"], device_type=f["type"] or None, status=f["status"] or None, q=f["q"] or None)
    if f["online"]:
        qs = iot.filter_connectivity(qs, online=f["online"] == "online", cutoffs=cutoffs)
    page = _page(request, qs)
    severity = iot.worst_open_severity(device_ids=[d.pk for d in page["rows"]])
    labels = dict(Severity.choices)
    return render(request, "console/iot/devices.html", {
        "f": f, "types": types, "statuses": DeviceStatus.choices, "regions": iot.device_scope_regions(actor=actor),
        "items": [{"d": d, "online": iot.is_online(d, cutoffs), "severity": severity.get(d.pk, ""),
                   "severity_label": labels.get(severity.get(d.pk, ""), "")} for d in page["rows"]],
        **page,
    })


@require_GET
@console_view
def device_map(request):
    actor = request.user
    check_perm_anywhere(actor, IotPerm.DEVICE_VIEW)
    region_id = _int(request.GET.get("region"))
    return render(request, "console/iot/map.html", {
        "regions": iot.device_scope_regions(actor=actor), "region_id": region_id,
        "data_url": reverse("console:iot_map_data") + (f"?region={region_id}" if region_id else ""),
        "severities": Severity.choices, "severity_labels": dict(Severity.choices),
    })


@require_GET
@console_view
def device_map_data(request):
    """Boundaries (places selector: the communities in the actor's place scope) and device markers."""
    actor = request.user
    check_perm_anywhere(actor, IotPerm.DEVICE_VIEW)
    region_id = _int(request.GET.get("region"))
    boundaries = places.boundaries_geojson(actor=actor, level="community")
    devices = iot.device_map_points(actor=actor, region_id=region_id, limit=MAP_LIMIT)
    for d in devices:
        d["url"] = reverse("console:iot_device", args=[d["id"]])
    return JsonResponse({"boundaries": boundaries, "devices": devices, "truncated": len(devices) >= MAP_LIMIT})


def _device_context(request, device) -> dict:
    actor = request.user
    rng = _choice(request.GET.get("range"), RANGES) or "24h"
    now = timezone.now()
    latest = {v.key: v for v in iot.latest_values(actor=actor, device_id=device.pk)}
    keys = [k for k in device.device_type.telemetry_keys or [] if isinstance(k, dict) and k.get("key")]
    known = {k["key"] for k in keys}
    keys += [{"key": key, "name": key, "unit": "", "type": "number"} for key in latest if key not in known]
    charts = []
    for i, k in enumerate(keys):
        if k.get("type", "number") not in ("number", "bool"):
            continue
        ser = iot.device_series(actor=actor, device_id=device.pk, key=k["key"], start=now - RANGES[rng], end=now)
        rolled = ser["resolution"] != "raw"
        charts.append({
            "id": f"tchart-{i}", "key": k["key"], "name": ser["name"], "unit": ser["unit"],
            "resolution": RESOLUTION_LABELS[ser["resolution"]],
            "data": {"title": ser["name"], "unit": ser["unit"], "rolled": rolled,
                     "points": [[p["ts"].isoformat(), p["value"]] for p in ser["points"]],
                     "band": [[p["ts"].isoformat(), p["min"], p["max"]] for p in ser["points"]] if rolled else []},
            "count": len(ser["points"]), "truncated": ser["truncated"],
        })
    return {
        "device": device, "online": iot.is_online(device, iot.online_cutoffs(now=now)),
        "latest": [{"key": k["key"], "name": k.get("name") or k["key"], "unit": k.get("unit", ""), "v": latest.get(k["key"])} for k in keys],
        "charts": charts, "range": rng, "ranges": RANGE_LABELS,
        "alarms": list(iot.alarm_list(actor=actor, device_id=device.pk, open_only=True).order_by("-id")[:20])
        if has_perm_anywhere(actor, IotPerm.ALARM_VIEW) else [],
        "rules": list(iot.rule_list(actor=actor, device_id=device.pk).order_by("code")),
        "can_edit": covers(actor, IotPerm.DEVICE_EDIT, device.region.path),
        "can_rules": covers(actor, IotPerm.RULE_EDIT, device.region.path),
        **_commands_context(actor, device),
        **_bin_context(actor, device),
    }


def _bin_context(actor, device) -> dict:
    """Trash bins (V1): the latest collections and the "collected" button."""
    if device.device_type.category != iot_env.BIN_CATEGORY:
        return {}
    return {"is_bin": True, "collections": iot_env.collections_for(actor=actor, device_id=device.pk, limit=10),
            "can_collect": covers(actor, IotPerm.BIN_COLLECT, device.region.path)}


@require_GET
@console_view
def device_detail(request, device_id: int):
    device = iot.device_get(actor=request.user, device_id=device_id)
    return render(request, "console/iot/device.html", _device_context(request, device))


@require_POST
@never_cache
@console_view
def device_reset_credentials(request, device_id: int):
    """New access token and MQTT password, shown once in the response (never stored in clear)."""
    device = iot.device_get(actor=request.user, device_id=device_id)
    creds = iot_services.device_reset_credentials(actor=request.user, device=device)
    template = "console/iot/_credentials.html" if is_htmx(request) else "console/iot/credentials.html"
    return render(request, template, {"device": device, "creds": creds})


# ---- commands (D5): preset buttons, parameters built here and checked by the service --------------
COMMAND_BUTTONS = {
    "streetlight": [("setPower:on", _("开灯")), ("setPower:off", _("关灯"))],
    "gate": [("openGate", _("开闸"))],
}


def _command_params(choice: str, request) -> tuple[str, dict]:
    if choice == "setPower:on":
        return "setPower", {"on": True}
    if choice == "setPower:off":
        return "setPower", {"on": False}
    if choice == "setDim":
        return "setDim", {"level": _int(request.POST.get("level")) if _int(request.POST.get("level")) is not None else -1}
    return choice, {}


def _commands_context(actor, device) -> dict:
    can = covers(actor, IotPerm.COMMAND_SEND, device.region.path)
    category = device.device_type.category
    return {
        "can_command": can,
        "command_buttons": [*COMMAND_BUTTONS.get(category, []), ("reboot", _("重启设备"))] if can else [],
        "can_dim": can and category == "streetlight",
        "commands": list(iot_rpc.command_list(actor=actor, device_id=device.pk).order_by("-id")[:10]),
    }


@require_POST
@console_view
def device_command(request, device_id: int):
    """Send a command (audited by the service) and show the device's latest commands."""
    actor = request.user
    device = iot.device_get(actor=actor, device_id=device_id)
    method, params = _command_params(request.POST.get("command") or "", request)
    ctx: dict = {"device": device}
    status = 200
    try:
        ctx["sent"] = iot_services.command_send(actor=actor, device=device, method=method, params=params)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        ctx["error"], status = exc, exc.status
    if not is_htmx(request) and status == 200:
        return redirect("console:iot_device", device_id=device.pk)
    ctx.update(_commands_context(actor, device))
    return render(request, "console/iot/_commands.html", ctx, status=status)


# ---- alarms --------------------------------------------------------------------------------------
ALARM_STATES = {"open": _("未清除（未确认+已确认）"), "active": _("未确认"), "acknowledged": _("已确认"), "cleared": _("已清除")}


def _alarm_filters(request) -> dict:
    g = request.GET
    return {
        "status": _choice(g.get("status"), ALARM_STATES) or "open",
        "severity": _choice(g.get("severity"), Severity.values),
        "region": _int(g.get("region")),
    }


def _alarm_rows(request, f: dict) -> dict:
    actor = request.user
    qs = iot.alarm_list(actor=actor, status=None if f["status"] == "open" else f["status"], open_only=f["status"] == "open",
                        severity=f["severity"] or None, region_id=f["region"])
    page = _page(request, qs)
    paths = actor.scope_paths(IotPerm.ALARM_ACK)
    cases = case_links([a.pk for a in page["rows"]])
    return {**page, "items": [{"a": a, "can_act": paths is None or any(a.region.path.startswith(p) for p in paths), "case": cases.get(a.pk)}
                              for a in page["rows"]]}


def _feed_query(f: dict) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in f.items() if v})


@require_GET
@console_view
def alarm_console(request):
    actor = request.user
    check_perm_anywhere(actor, IotPerm.ALARM_VIEW)
    f = _alarm_filters(request)
    return render(request, "console/iot/alarms.html", {
        "f": f, "states": ALARM_STATES, "severities": Severity.choices, "regions": iot.device_scope_regions(actor=actor),
        "feed_url": reverse("console:iot_alarm_feed") + "?" + _feed_query(f), **_alarm_rows(request, f),
        "live_url": live_url("console:iot_alarm_stream"),
    })


@require_GET
@console_view
def alarm_feed(request):
    """The alarm table body (htmx polls it every 5 s: the live feed)."""
    check_perm_anywhere(request.user, IotPerm.ALARM_VIEW)
    if not is_htmx(request):
        return redirect(reverse("console:iot_alarms") + "?" + request.GET.urlencode())
    return render(request, "console/iot/_alarm_rows.html", {"now": timezone.now(), **_alarm_rows(request, _alarm_filters(request))})


@require_GET
@console_view
def alarm_stream(request):
    """Server-sent events: tells the alarm console to refresh at once when an alarm in the viewer's scope
    is raised, acknowledged, escalated or cleared (204 without a live backend: the page keeps polling)."""
    return live_stream_response(request, ["alarms"], IotPerm.ALARM_VIEW)


@require_POST
@console_view
def alarm_action(request, alarm_id: int, action: str):
    actor = request.user
    alarm = iot.alarm_get(actor=actor, alarm_id=alarm_id)
    note = (request.POST.get("note") or "").strip()[:300]
    if action == "ack":
        alarm = iot_services.alarm_acknowledge(actor=actor, alarm=alarm, note=note)
    elif action == "clear":
        alarm = iot_services.alarm_clear(actor=actor, alarm=alarm, note=note)
    else:
        raise NotFound("alarm.action_unknown")
    alarm = iot.alarm_get(actor=actor, alarm_id=alarm.pk)
    if not is_htmx(request):
        return redirect(request.POST.get("back") if (request.POST.get("back") or "").startswith("/console/iot/") else "console:iot_alarms")
    return render(request, "console/iot/_alarm_row.html", {"item": {"a": alarm, "can_act": True, "case": case_links([alarm.pk]).get(alarm.pk)},
                                                           "done": action})


# ---- rules ---------------------------------------------------------------------------------------


class ThresholdRuleForm(forms.Form):
    code = forms.SlugField(label=_("规则代码"), max_length=50, help_text=_("字母、数字、下划线；与设备类型默认规则同代码时覆盖之"))
    name = forms.CharField(label=_("名称"), max_length=100)
    key = forms.CharField(label=_("读数项"), max_length=64)
    op = forms.ChoiceField(label=_("比较"), choices=[(o, o) for o in OPS])
    value = forms.FloatField(label=_("触发阈值"))
    clear = forms.FloatField(label=_("恢复阈值（回差，可空）"), required=False)
    duration_s = forms.IntegerField(label=_("持续时间（秒）"), min_value=0, max_value=86400, initial=0)
    severity = forms.ChoiceField(label=_("级别"), choices=Severity.choices, initial=Severity.MAJOR)
    message = forms.CharField(label=_("告警说明"), max_length=200, required=False)
    create_case = forms.BooleanField(label=_("需人工处置（生成事件工单）"), required=False)
    enabled = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args, editing: bool = False, keys: list[dict] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["code"].disabled = True
        if keys:
            self.fields["key"].widget = forms.Select(choices=[(k["key"], f"{k.get('name') or k['key']}（{k['key']}）") for k in keys])

    def conditions(self) -> list[dict]:
        c = {"type": "threshold", "key": self.cleaned_data["key"], "op": self.cleaned_data["op"], "value": self.cleaned_data["value"]}
        if self.cleaned_data.get("clear") is not None:
            c["clear"] = self.cleaned_data["clear"]
        return [c]


def _simple_threshold(rule) -> dict | None:
    """The single threshold condition of a rule the form can edit, else None."""
    conds = rule.conditions or []
    if rule.kind == RuleKind.CONDITION and len(conds) == 1 and conds[0].get("type") == "threshold":
        return conds[0]
    return None


@require_GET
@console_view
def rule_list(request):
    actor = request.user
    if not has_perm_anywhere(actor, IotPerm.RULE_EDIT):
        check_perm_anywhere(actor, IotPerm.DEVICE_VIEW)
    types = list(DeviceType.objects.order_by("name"))
    code = _choice(request.GET.get("type"), {t.code for t in types}) or (types[0].code if types else "")
    dtype = next((t for t in types if t.code == code), None)
    type_rules = list(iot.rule_list(actor=actor, device_type=code).filter(device__isnull=True).order_by("code")) if code else []
    overrides_qs = iot.rules_for_actor(actor).filter(device__isnull=False).select_related("device__device_type")
    if code:
        overrides_qs = overrides_qs.filter(device__device_type__code=code)
    page = _page(request, overrides_qs)
    return render(request, "console/iot/rules.html", {
        "types": types, "dtype": dtype, "type_rules": type_rules, "overrides": page["rows"],
        "can_edit_types": holds_at_root(actor, IotPerm.RULE_EDIT), "can_edit_overrides": has_perm_anywhere(actor, IotPerm.RULE_EDIT), **page,
    })


def _rule_form_render(request, ctx: dict, status: int = 200):
    return render(request, "console/iot/rule_form.html", ctx, status=status)


@require_http_methods(["GET", "POST"])
@console_view
def rule_create(request):
    actor = request.user
    check_perm_anywhere(actor, IotPerm.RULE_EDIT)
    src = request.POST if request.method == "POST" else request.GET
    device = iot.device_get(actor=actor, device_id=_int(src.get("device"))) if _int(src.get("device")) else None
    dtype = device.device_type if device else iot.device_type_get(device_type_id=_int(src.get("device_type")) or 0)
    keys = [k for k in dtype.telemetry_keys or [] if isinstance(k, dict) and k.get("type", "number") in ("number", "bool")]
    form = ThresholdRuleForm(request.POST or None, keys=keys, initial={"code": src.get("code", ""), "name": src.get("name", "")})
    ctx = {"form": form, "device": device, "dtype": dtype, "rule": None}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            rule = iot_services.rule_create(
                actor=actor, code=d["code"], name=d["name"], device_type=None if device else dtype, device=device,
                conditions=form.conditions(), duration_s=d["duration_s"], severity=d["severity"], message=d["message"],
                create_case=d["create_case"], enabled=d["enabled"],
            )
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            return _rule_form_render(request, {**ctx, "error": exc}, status=exc.status)
        return redirect(reverse("console:iot_rules") + f"?type={rule.device.device_type.code if rule.device else rule.device_type.code}")
    return _rule_form_render(request, ctx, status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@console_view
def rule_edit(request, rule_id: int):
    actor = request.user
    check_perm_anywhere(actor, IotPerm.RULE_EDIT)
    rule = iot.rule_get(actor=actor, rule_id=rule_id)
    dtype = rule.device.device_type if rule.device else rule.device_type
    cond = _simple_threshold(rule)
    keys = [k for k in dtype.telemetry_keys or [] if isinstance(k, dict) and k.get("type", "number") in ("number", "bool")]
    initial = {"code": rule.code, "name": rule.name, "duration_s": rule.duration_s, "severity": rule.severity, "message": rule.message,
               "create_case": rule.create_case, "enabled": rule.enabled}
    if cond:
        initial.update(key=cond["key"], op=cond["op"], value=cond["value"], clear=cond.get("clear"))
    form = ThresholdRuleForm(request.POST or None, editing=True, keys=keys, initial=initial)
    if cond is None:  # compound / event / offline rules: the form edits the common fields only
        for name in ("key", "op", "value", "clear"):
            form.fields[name].required = False
            form.fields[name].disabled = True
    ctx = {"form": form, "device": rule.device, "dtype": dtype, "rule": rule, "compound": cond is None}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        changes = {k: d[k] for k in ("name", "severity", "message", "create_case", "enabled")}
        if rule.kind == RuleKind.CONDITION:
            changes["duration_s"] = d["duration_s"]
        if cond is not None:
            changes["conditions"] = form.conditions()
        try:
            iot_services.rule_update(actor=actor, rule=rule, changes=changes)
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            return _rule_form_render(request, {**ctx, "error": exc}, status=exc.status)
        return redirect(reverse("console:iot_rules") + f"?type={dtype.code}")
    return _rule_form_render(request, ctx, status=400 if request.method == "POST" else 200)

