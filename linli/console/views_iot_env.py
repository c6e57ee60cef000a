"""Console pages for the environment (/console/iot/bins/, /console/iot/emissions/; V1, V2):

- the printable collection list of trash bins (full or predicted full by the next round), grouped by
  route in stop order or fullest first, with a "collected" button per bin (htmx swaps the row);
- collection routes: list, create and edit (ordered stops as one serial per line);
- transfer stations: latest emission readings against their limits and hours over a limit per day.

Views parse input, call linli.iot.environment / selectors and render; errors from the services are
shown next to the form (4xx) or as the error page (403/404).
"""

from __future__ import annotations

from django import forms
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from linli.core.errors import DomainError, Invalid
from linli.core.i18n import Msg
from linli.iot import environment as env
from linli.iot import selectors as iot
from linli.iot.perms import IotPerm
from linli.orgs.perms import check_perm_anywhere, covers
from linli.orgs.selectors import has_perm_anywhere
from linli.places.models import Region

from .access import console_view, is_htmx
from .views_iot import _choice, _int

THRESHOLDS = (60, 70, 80, 90)
ORDERS = {"route": _("按路线站点顺序"), "fill": _("按满溢度从高到低")}


# ---- V1 collection list --------------------------------------------------------------------------
@require_GET
@console_view
def bin_list(request):
    actor = request.user
    check_perm_anywhere(actor, IotPerm.DEVICE_VIEW)
    g = request.GET
    f = {"region": _int(g.get("region")), "threshold": _int(g.get("threshold")) or int(env.DEFAULT_THRESHOLD),
         "order": _choice(g.get("order"), ORDERS) or "route", "all": g.get("all") == "1"}
    if f["threshold"] not in THRESHOLDS:
        f["threshold"] = int(env.DEFAULT_THRESHOLD)
    now = timezone.now()
    groups = env.collection_list(actor=actor, region_id=f["region"], threshold=f["threshold"], order=f["order"], show_all=f["all"], now=now)
    paths = actor.scope_paths(IotPerm.BIN_COLLECT)
    return render(request, "console/iot/bins.html", {
        "f": f, "groups": groups, "now": now, "thresholds": THRESHOLDS, "orders": ORDERS, "regions": iot.device_scope_regions(actor=actor),
        "can_collect": has_perm_anywhere(actor, IotPerm.BIN_COLLECT), "collect_paths": paths,
        "total": sum(len(g.bins) for g in groups),
    })


@require_POST
@console_view
def bin_collect(request, device_id: int):
    """Mark a bin collected (audited by the service); htmx swaps the row, else back to the list."""
    actor = request.user
    device = iot.device_get(actor=actor, device_id=device_id)
    collection = env.bin_collect(actor=actor, device=device, note=(request.POST.get("note") or "").strip()[:200])
    if not is_htmx(request):
        back = request.POST.get("back") or ""
        return redirect(back if back.startswith("/console/iot/") else "console:iot_bins")
    return render(request, "console/iot/_bin_collected.html", {"device": device, "c": collection})


# ---- routes --------------------------------------------------------------------------------------
class RouteForm(forms.Form):
    name = forms.CharField(label=_("路线名称"), max_length=80)
    region = forms.TypedChoiceField(label=_("所属区域"), coerce=int)
    round_times = forms.CharField(label=_("清运时间"), max_length=100, initial="07:00,16:00", help_text=_("HH:MM，多个用逗号分隔"))
    stops = forms.CharField(label=_("站点（垃圾桶序列号，按清运顺序每行一个）"), widget=forms.Textarea(attrs={"rows": 8}), required=False)
    note = forms.CharField(label=_("说明"), max_length=200, required=False)

    def __init__(self, *args, regions: list[Region], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r.pk, ("— " if r.level == "grid" else "") + r.name) for r in regions]

    def serials(self) -> list[str]:
        return [s.strip() for s in self.cleaned_data["stops"].replace(",", "\n").splitlines() if s.strip()]


def _device_ids(actor, serials: list[str]) -> list[int]:
    found = dict(env.bins_in_scope(actor=actor).filter(serial__in=serials).values_list("serial", "id"))
    missing = [s for s in serials if s not in found]
    if missing:
        raise Invalid("route.unknown_serial", Msg("找不到这些垃圾桶：{serials}", "Unknown bins: {serials}"), serials="、".join(missing[:10]))
    return [found[s] for s in serials]


@require_GET
@console_view
def route_list(request):
    actor = request.user
    check_perm_anywhere(actor, IotPerm.DEVICE_VIEW)
    routes = list(env.route_list(actor=actor).prefetch_related("stops__device").order_by("region__path", "name")[:500])
    return render(request, "console/iot/routes.html", {
        "routes": [{"r": r, "stops": sorted(r.stops.all(), key=lambda s: s.position), "can_edit": covers(actor, IotPerm.BIN_COLLECT, r.region.path)}
                   for r in routes],
        "can_create": has_perm_anywhere(actor, IotPerm.BIN_COLLECT),
    })


@require_http_methods(["GET", "POST"])
@console_view
def route_edit(request, route_id: int | None = None):
    actor = request.user
    check_perm_anywhere(actor, IotPerm.BIN_COLLECT)
    route = env.route_get(actor=actor, route_id=route_id) if route_id else None
    regions = iot.device_scope_regions(actor=actor)
    initial = {}
    if route:
        initial = {"name": route.name, "region": route.region_id, "round_times": route.round_times, "note": route.note,
                   "stops": "\n".join(s.device.serial for s in env.route_stops(route))}
    form = RouteForm(request.POST or None, regions=regions, initial=initial)
    ctx = {"form": form, "route": route}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        region = next((r for r in regions if r.pk == d["region"]), None)
        try:
            env.route_save(actor=actor, region=region, name=d["name"], round_times=d["round_times"], note=d["note"],
                           device_ids=_device_ids(actor, form.serials()), route=route)
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            return render(request, "console/iot/route_form.html", {**ctx, "error": exc}, status=exc.status)
        return redirect("console:iot_routes")
    return render(request, "console/iot/route_form.html", ctx, status=400 if request.method == "POST" else 200)


# ---- V2 emission stations ------------------------------------------------------------------------
DAY_CHOICES = (7, 14, 30)


@require_GET
@console_view
def emission_list(request):
    actor = request.user
    check_perm_anywhere(actor, IotPerm.DEVICE_VIEW)
    days = _int(request.GET.get("days"))
    days = days if days in DAY_CHOICES else 7
    region = _int(request.GET.get("region"))
    data = env.emission_stations(actor=actor, region_id=region, days=days)
    return render(request, "console/iot/emissions.html", {
        **data, "days": days, "day_choices": DAY_CHOICES, "region": region, "regions": iot.device_scope_regions(actor=actor),
    })
