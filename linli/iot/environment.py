"""Environment (V1, V2): trash-bin collection list and routes, emission stations at transfer stations.

V1 — a bin needs collection when its fill level is at or above the threshold, or when the recent fill
rate (least squares over the hourly rollups since it was last emptied, plus the latest reading) says
it will reach the threshold before the next round of its route (``CollectionRoute.round_times``; bins
without a route use ``DEFAULT_HORIZON_H``). Marking a bin collected records a ``BinCollection``; the
bin stays off the list until its next reading arrives (the sensor then reports the emptied level).

V2 — emission monitors (``emission_monitor`` type: H2S, NH3, odour, PM10) at transfer stations: latest
readings against the limit of the type's default rule (or a per-device override), and per local day
the number of hours whose maximum exceeded the limit (超标小时数, from the 1 h rollups).

Reads are scoped like every iot read (device.view; out of scope ⇒ 404); writes need ``bin.collect``
over the bin's / route's region and are audited.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from linli.audit.services import record
from linli.core.errors import Invalid, NotFound
from linli.core.i18n import Msg
from linli.orgs.perms import check_perm_at
from linli.places.models import Region

from . import selectors
from .models import BinCollection, CollectionRoute, CollectionStop, Device, LatestValue, Rule, TelemetryRollup
from .perms import IotPerm

BIN_CATEGORY = "trash_bin"
FILL, WEIGHT = "fill_level", "weight"
DEFAULT_THRESHOLD = 80.0
DEFAULT_HORIZON_H = 12.0
RATE_WINDOW = dt.timedelta(hours=24)
MAX_BINS = 2000
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


# ---- rounds and fill rate ------------------------------------------------------------------------
def parse_round_times(raw: str) -> list[dt.time]:
    """"07:00, 16:00" → sorted times; bad input ⇒ 422 ``route.bad_round_times``."""
    parts = [p.strip() for p in (raw or "").replace("，", ",").split(",") if p.strip()]
    out = []
    for p in parts:
        m = TIME_RE.match(p)
        if not m:
            raise Invalid("route.bad_round_times", Msg("清运时间格式应为 HH:MM，多个用逗号分隔", "Round times must be HH:MM, comma separated"))
        out.append(dt.time(int(m[1]), int(m[2])))
    if not out or len(out) > 12:
        raise Invalid("route.bad_round_times", Msg("请填写1到12个清运时间", "Give between 1 and 12 round times"))
    return sorted(set(out))


def next_round(times: list[dt.time], now: dt.datetime) -> dt.datetime:
    local = now.astimezone(_tz())
    for day in range(2):
        d = local.date() + dt.timedelta(days=day)
        for t in times:
            at = dt.datetime.combine(d, t, tzinfo=_tz())
            if at > local:
                return at
    return local + dt.timedelta(days=1)  # unreachable with at least one time


EMPTIED_DROP = 10.0  # a fall of this many points between two readings = the bin was emptied


def since_emptied(points: list[tuple[dt.datetime, float]]) -> list[tuple[dt.datetime, float]]:
    """The points after the last emptying seen in the data (a crew may empty a bin without recording it)."""
    for i in range(len(points) - 1, 0, -1):
        if points[i - 1][1] - points[i][1] >= EMPTIED_DROP:
            return points[i:]
    return points


def fill_rate(points: list[tuple[dt.datetime, float]]) -> float | None:
    """Least-squares slope in %/h of (time, fill) points; None with fewer than two distinct times."""
    if len(points) < 2:
        return None
    t0 = points[0][0]
    xs = [(t - t0).total_seconds() / 3600 for t, _ in points]
    ys = [v for _, v in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


# ---- V1 collection list --------------------------------------------------------------------------
@dataclass
class BinRow:
    device: Device
    fill: float | None
    fill_at: dt.datetime | None
    weight: float | None
    rate: float | None
    predicted: float | None
    reason: str  # "full" | "predicted" | ""
    position: int | None
    last_collected_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        d = self.device
        return {"device_id": d.pk, "serial": d.serial, "name": str(d), "location": d.location_note, "region": d.region.name,
                "fill_level": self.fill, "fill_at": self.fill_at, "weight": self.weight,
                "fill_rate_per_hour": round(self.rate, 2) if self.rate is not None else None,
                "predicted_fill": round(self.predicted, 1) if self.predicted is not None else None,
                "reason": self.reason, "position": self.position, "last_collected_at": self.last_collected_at}


@dataclass
class RouteGroup:
    route: CollectionRoute | None
    next_round_at: dt.datetime
    bins: list[BinRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        r = self.route
        return {"route_id": r.pk if r else None, "name": r.name if r else "未编入路线", "round_times": r.round_times if r else "",
                "next_round_at": self.next_round_at, "bins": [b.as_dict() for b in self.bins]}


def bins_in_scope(*, actor: Any, region_id: int | None = None):
    return (selectors.device_list(actor=actor, region_id=region_id).filter(device_type__category=BIN_CATEGORY, status="active")
            .select_related("collection_stop__route"))


def _rates(device_ids: list[int], since: dict[int, dt.datetime], now: dt.datetime) -> dict[int, list[tuple[dt.datetime, float]]]:
    """Hourly mean fill per bin since the later of (now - RATE_WINDOW, its last collection). One query."""
    start = now - RATE_WINDOW
    rows = (TelemetryRollup.objects.filter(device_id__in=device_ids, key=FILL, resolution="1h", bucket__gte=start - dt.timedelta(hours=1))
            .order_by("device_id", "bucket").values_list("device_id", "bucket", "vsum", "n", "vlast", "last_ts"))
    out: dict[int, list[tuple[dt.datetime, float]]] = {}
    for dev, bucket, vsum, n, _vlast, _last_ts in rows:
        mid = bucket + dt.timedelta(minutes=30)
        if mid < start or (dev in since and bucket < since[dev]):
            continue
        out.setdefault(dev, []).append((mid, vsum / n))
    return out


def collection_list(*, actor: Any, region_id: int | None = None, threshold: float = DEFAULT_THRESHOLD, order: str = "route",
                    show_all: bool = False, now: dt.datetime | None = None) -> list[RouteGroup]:
    """Bins in scope needing collection (or all bins with ``show_all``), grouped by route (routes by
    name, unrouted last); within a route by stop order (``order="route"``) or fullest first."""
    if not 0 < threshold <= 100:
        raise Invalid("bins.bad_threshold", Msg("阈值须在0到100之间", "threshold must be between 0 and 100"))
    if order not in ("route", "fill"):
        raise Invalid("bins.bad_order", Msg("排序方式须为 route 或 fill", "order must be route or fill"))
    now = now or timezone.now()
    bins = list(bins_in_scope(actor=actor, region_id=region_id).order_by("id")[:MAX_BINS])
    ids = [b.pk for b in bins]
    latest: dict[int, dict[str, LatestValue]] = {}
    for lv in LatestValue.objects.filter(device_id__in=ids, key__in=[FILL, WEIGHT]):
        latest.setdefault(lv.device_id, {})[lv.key] = lv
    collected = dict(BinCollection.objects.filter(device_id__in=ids).values("device_id").annotate(at=Max("collected_at")).values_list("device_id", "at"))
    history = _rates(ids, collected, now)
    groups: dict[int | None, RouteGroup] = {}
    for b in bins:
        stop = getattr(b, "collection_stop", None)
        route = stop.route if stop else None
        key = route.pk if route else None
        if key not in groups:
            nxt = next_round(parse_round_times(route.round_times), now) if route else now + dt.timedelta(hours=DEFAULT_HORIZON_H)
            groups[key] = RouteGroup(route, nxt)
        fill_lv, weight_lv = latest.get(b.pk, {}).get(FILL), latest.get(b.pk, {}).get(WEIGHT)
        last = collected.get(b.pk)
        fill = fill_lv.value if fill_lv is not None else None
        awaiting = last is not None and (fill_lv is None or fill_lv.ts <= last)
        rate = predicted = None
        reason = ""
        if fill is not None and not awaiting:
            pts = history.get(b.pk, [])
            rate = fill_rate(since_emptied([*pts, (fill_lv.ts, fill)] if not pts or fill_lv.ts > pts[-1][0] else pts))
            hours = max(0.0, (groups[key].next_round_at - now).total_seconds() / 3600)
            predicted = min(100.0, fill + max(rate or 0.0, 0.0) * hours)
            reason = "full" if fill >= threshold else "predicted" if predicted >= threshold else ""
        if reason or show_all:
            groups[key].bins.append(BinRow(b, None if awaiting else fill, fill_lv.ts if fill_lv else None,
                                           weight_lv.value if weight_lv and not awaiting else None, rate, predicted, reason,
                                           stop.position if stop else None, last))
    for g in groups.values():
        if order == "fill":
            g.bins.sort(key=lambda r: (-(r.fill or 0), r.position or 0))
        else:
            g.bins.sort(key=lambda r: (r.position or 10**6, -(r.fill or 0)))
    ordered = sorted((g for g in groups.values() if g.bins), key=lambda g: (g.route is None, g.route.name if g.route else ""))
    return ordered


@transaction.atomic
def bin_collect(*, actor: Any, device: Device, note: str = "", at: dt.datetime | None = None) -> BinCollection:
    """Record that a bin was emptied (V1), with its fill and weight just before. Audited."""
    check_perm_at(actor, IotPerm.BIN_COLLECT, device.region.path, code="device.not_found")
    if device.device_type.category != BIN_CATEGORY:
        raise Invalid("bins.not_a_bin", Msg("该设备不是垃圾桶", "This device is not a trash bin"))
    at = at or timezone.now()
    lv = {v.key: v.value for v in LatestValue.objects.filter(device=device, key__in=[FILL, WEIGHT])}
    obj = BinCollection.objects.create(device=device, region=device.region, collected_at=at, collected_by=actor if actor.is_authenticated else None,
                                       fill_before=lv.get(FILL), weight_before=lv.get(WEIGHT), note=(note or "")[:200])
    record(actor=actor, action="iot.bin_collect", obj=obj, region_path=device.region.path,
           detail={"device": device.serial, "fill_before": obj.fill_before})
    return obj


def collections_for(*, actor: Any, device_id: int, limit: int = 20) -> list[BinCollection]:
    device = selectors.device_get(actor=actor, device_id=device_id)
    return list(BinCollection.objects.filter(device=device).select_related("collected_by").order_by("-collected_at")[:limit])


# ---- routes --------------------------------------------------------------------------------------
def route_list(*, actor: Any):
    return CollectionRoute.objects.for_actor(actor, IotPerm.DEVICE_VIEW).select_related("region")


def route_get(*, actor: Any, route_id: int) -> CollectionRoute:
    obj = route_list(actor=actor).filter(pk=route_id).first()
    if obj is None:
        raise NotFound("route.not_found")
    return obj


def route_stops(route: CollectionRoute) -> list[CollectionStop]:
    return list(route.stops.select_related("device").order_by("position"))


def _route_devices(actor: Any, region: Region, device_ids: list[int]) -> list[Device]:
    if len(device_ids) != len(set(device_ids)):
        raise Invalid("route.duplicate_stop", Msg("同一个垃圾桶不能在路线中出现两次", "A bin appears twice on the route"))
    if len(device_ids) > 500:
        raise Invalid("route.too_many_stops", Msg("一条路线最多500个站点", "A route has at most 500 stops"))
    found = {d.pk: d for d in bins_in_scope(actor=actor).filter(pk__in=device_ids, region__path__startswith=region.path)}
    missing = [i for i in device_ids if i not in found]
    if missing:
        raise Invalid("route.bad_stop", Msg("站点须为本区域内在用的垃圾桶：{ids}", "Stops must be active bins inside the route's region: {ids}"),
                      ids=",".join(map(str, missing[:10])), detail={"device_ids": missing})
    return [found[i] for i in device_ids]


@transaction.atomic
def route_save(*, actor: Any, region: Region, name: str, round_times: str, device_ids: list[int], note: str = "",
               route: CollectionRoute | None = None) -> CollectionRoute:
    """Create or replace a route and its ordered stops. A bin already on another route moves here."""
    check_perm_at(actor, IotPerm.BIN_COLLECT, region.path, code="region.not_found")
    if route is not None:
        check_perm_at(actor, IotPerm.BIN_COLLECT, route.region.path, code="route.not_found")
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise Invalid("route.bad_name", Msg("路线名称必填，不超过80字", "A route name (at most 80 characters) is required"))
    times = ",".join(t.strftime("%H:%M") for t in parse_round_times(round_times))
    devices = _route_devices(actor, region, device_ids)
    clash = CollectionRoute.objects.filter(region=region, name=name).exclude(pk=route.pk if route else None).exists()
    if clash:
        raise Invalid("route.duplicate_name", Msg("该区域已有同名路线", "A route with this name exists in the region"))
    before = {"name": route.name, "round_times": route.round_times, "stops": list(route.stops.order_by("position").values_list("device_id", flat=True))} if route else None
    route = route or CollectionRoute(region=region)
    route.region, route.name, route.round_times, route.note = region, name, times, (note or "")[:200]
    route.save()
    CollectionStop.objects.filter(route=route).delete()
    CollectionStop.objects.filter(device__in=devices).delete()
    CollectionStop.objects.bulk_create([CollectionStop(route=route, device=d, position=i) for i, d in enumerate(devices, start=1)])
    record(actor=actor, action="iot.route_save", obj=route, region_path=region.path, before=before,
           after={"name": name, "round_times": times, "stops": [d.pk for d in devices]})
    return route


# ---- V2 emission stations ------------------------------------------------------------------------
EMISSION_TYPES = ("emission_monitor",)
EMISSION_DAYS_MAX = 31


def _limits(devices: list[Device]) -> dict[int, dict[str, float]]:
    """Device → key → upper limit: the first ``>`` threshold of its enabled type rules, replaced per code by
    the device's own rules. One query."""
    type_ids = {d.device_type_id for d in devices}
    rules = Rule.objects.filter(Q(device_type_id__in=type_ids) | Q(device_id__in=[d.pk for d in devices]), kind="condition")
    by_type: dict[int, dict[str, Rule]] = {}
    by_device: dict[int, dict[str, Rule]] = {}
    for r in rules:
        (by_type.setdefault(r.device_type_id, {}) if r.device_type_id else by_device.setdefault(r.device_id, {}))[r.code] = r
    out: dict[int, dict[str, float]] = {}
    for d in devices:
        effective = {**by_type.get(d.device_type_id, {}), **by_device.get(d.pk, {})}
        limits: dict[str, float] = {}
        for r in effective.values():
            if not r.enabled:
                continue
            for c in r.conditions or []:
                if c.get("type") == "threshold" and c.get("op") in (">", ">=") and isinstance(c.get("value"), int | float):
                    limits.setdefault(c["key"], float(c["value"]))
        out[d.pk] = limits
    return out


def emission_stations(*, actor: Any, region_id: int | None = None, days: int = 7, now: dt.datetime | None = None) -> dict[str, Any]:
    """Stations (emission monitors) in scope with latest readings vs limits and, per local day of the last
    ``days``, the hours whose maximum exceeded a limit. Five queries whatever the number of stations."""
    if not 1 <= days <= EMISSION_DAYS_MAX:
        raise Invalid("emissions.bad_days", Msg("天数须在1到{max}之间", "days must be between 1 and {max}"), max=EMISSION_DAYS_MAX)
    now = now or timezone.now()
    devices = list(selectors.device_list(actor=actor, region_id=region_id).filter(device_type__code__in=EMISSION_TYPES).order_by("name", "id")[:500])
    limits = _limits(devices)
    ids = [d.pk for d in devices]
    latest: dict[int, dict[str, LatestValue]] = {}
    for lv in LatestValue.objects.filter(device_id__in=ids):
        latest.setdefault(lv.device_id, {})[lv.key] = lv
    today = now.astimezone(_tz()).date()
    dates = [today - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
    start = dt.datetime.combine(dates[0], dt.time(), tzinfo=_tz())
    exceed: dict[tuple[int, dt.date], dict[str, int]] = {}
    for dev, key, bucket, vmax in TelemetryRollup.objects.filter(device_id__in=ids, resolution="1h", bucket__gte=start).values_list(
            "device_id", "key", "bucket", "vmax"):
        limit = limits.get(dev, {}).get(key)
        if limit is not None and vmax > limit:
            counts = exceed.setdefault((dev, bucket.astimezone(_tz()).date()), {})
            counts[key] = counts.get(key, 0) + 1
    stations = []
    for d in devices:
        keys = [k for k in d.device_type.telemetry_keys or [] if isinstance(k, dict) and k.get("type", "number") == "number"]
        readings = []
        for k in keys:
            lv = latest.get(d.pk, {}).get(k["key"])
            limit = limits.get(d.pk, {}).get(k["key"])
            value = lv.value if lv is not None else None
            readings.append({"key": k["key"], "name": k.get("name") or k["key"], "unit": k.get("unit", ""), "value": value,
                             "ts": lv.ts if lv is not None else None, "limit": limit,
                             "exceeded": value is not None and limit is not None and value > limit,
                             "per_day": [exceed.get((d.pk, day), {}).get(k["key"], 0) for day in dates]})
        per_day = [{"date": day, "hours": exceed.get((d.pk, day), {}), "total": sum(exceed.get((d.pk, day), {}).values())} for day in dates]
        stations.append({"device": d, "readings": readings, "days": per_day, "exceeded_now": any(r["exceeded"] for r in readings)})
    return {"dates": dates, "stations": stations}
