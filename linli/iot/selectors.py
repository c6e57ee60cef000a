"""Reads of the iot domain, always scoped through ``for_actor`` (out of scope ⇒ 404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet, Sum

from linli.core.errors import Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.scoping import scope_q
from linli.orgs.perms import covers_any
from linli.places.models import Region

from .models import (
    Alarm,
    AlarmNotification,
    Device,
    DeviceType,
    IngestCounter,
    LatestValue,
    Rule,
    Telemetry,
    hash_secret,
)
from .perms import IotPerm


def device_type_list(*, q: str | None = None, category: str | None = None) -> QuerySet[DeviceType]:
    qs = DeviceType.objects.all()
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q))
    if category:
        qs = qs.filter(category=category)
    return qs


def device_type_get(*, device_type_id: int) -> DeviceType:
    obj = DeviceType.objects.filter(pk=device_type_id).first()
    if obj is None:
        raise NotFound("device_type.not_found")
    return obj


def _subtree(qs: QuerySet, field: str, region_id: int | None) -> QuerySet:
    if region_id is None:
        return qs
    path = Region.objects.filter(pk=region_id).values_list("path", flat=True).first()
    return qs.filter(**{f"{field}__path__startswith": path}) if path else qs.none()


def device_list(*, actor: Any, region_id: int | None = None, device_type: str | None = None, status: str | None = None,
                q: str | None = None, house_id: int | None = None, building_id: int | None = None) -> QuerySet[Device]:
    qs = Device.objects.for_actor(actor, IotPerm.DEVICE_VIEW).select_related("device_type", "region")
    qs = _subtree(qs, "region", region_id)
    if device_type:
        qs = qs.filter(device_type__code=device_type)
    if status:
        qs = qs.filter(status=status)
    if house_id:
        qs = qs.filter(house_id=house_id)
    if building_id:
        qs = qs.filter(building_id=building_id)
    if q:
        qs = qs.filter(Q(serial__icontains=q) | Q(name__icontains=q))
    return qs


def device_get(*, actor: Any, device_id: int, perm: str = IotPerm.DEVICE_VIEW) -> Device:
    obj = Device.objects.for_actor(actor, perm).select_related("device_type", "region").filter(pk=device_id).first()
    if obj is None:
        raise NotFound("device.not_found")
    return obj


def device_by_token(*, token: str) -> Device | None:
    if not token or len(token) > 200:
        return None
    return Device.objects.filter(token_hash=hash_secret(token)).first()


def telemetry_history(*, actor: Any, device_id: int, key: str, since: dt.datetime | None = None,
                      until: dt.datetime | None = None) -> QuerySet[Telemetry]:
    """Readings of one key of one device (ordered by ts, which is unique per device and key)."""
    device = device_get(actor=actor, device_id=device_id)
    qs = Telemetry.objects.filter(device_id=device.pk, key=key)
    if since:
        qs = qs.filter(ts__gte=since)
    if until:
        qs = qs.filter(ts__lt=until)
    return qs


def latest_values(*, actor: Any, device_id: int) -> list[LatestValue]:
    device = device_get(actor=actor, device_id=device_id)
    return list(LatestValue.objects.filter(device_id=device.pk).order_by("key"))


def rules_for_actor(actor: Any) -> QuerySet[Rule]:
    """Type defaults are visible to anyone who may see devices; device rules follow the device's scope."""
    if not covers_any(actor, IotPerm.DEVICE_VIEW) and not covers_any(actor, IotPerm.RULE_EDIT):
        return Rule.objects.none()
    q = scope_q(Rule, actor.scope_paths(IotPerm.DEVICE_VIEW), field="device__region")
    qs = Rule.objects.select_related("device_type", "device")
    return qs if q is None else qs.filter(Q(device__isnull=True) | q)


def rule_list(*, actor: Any, device_type: str | None = None, device_id: int | None = None, kind: str | None = None) -> QuerySet[Rule]:
    qs = rules_for_actor(actor)
    if device_type:
        qs = qs.filter(device_type__code=device_type)
    if device_id:
        qs = qs.filter(device_id=device_id)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def rule_get(*, actor: Any, rule_id: int) -> Rule:
    obj = rules_for_actor(actor).filter(pk=rule_id).first()
    if obj is None:
        raise NotFound("rule.not_found")
    return obj


def alarm_list(*, actor: Any, status: str | None = None, open_only: bool = False, severity: str | None = None,
               device_id: int | None = None, region_id: int | None = None) -> QuerySet[Alarm]:
    qs = Alarm.objects.for_actor(actor, IotPerm.ALARM_VIEW).select_related("device", "rule", "region")
    qs = _subtree(qs, "region", region_id)
    if status:
        qs = qs.filter(status=status)
    if open_only:
        qs = qs.exclude(status="cleared")
    if severity:
        qs = qs.filter(severity=severity)
    if device_id:
        qs = qs.filter(device_id=device_id)
    return qs


def alarm_get(*, actor: Any, alarm_id: int, perm: str = IotPerm.ALARM_VIEW) -> Alarm:
    obj = Alarm.objects.for_actor(actor, perm).select_related("device", "rule", "region").filter(pk=alarm_id).first()
    if obj is None:
        raise NotFound("alarm.not_found")
    return obj


def notifications_for(*, actor: Any, unread: bool = False) -> QuerySet[AlarmNotification]:
    qs = AlarmNotification.objects.filter(account_id=actor.pk).select_related("alarm", "alarm__device")
    return qs.filter(read_at__isnull=True) if unread else qs


# ---- console reads (device list/map/detail, alarm console) ----------------------------------------
ONLINE_DEFAULT_MINUTES = 60
SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2, "warning": 3}


def online_cutoffs(*, now: dt.datetime) -> dict[int, dt.datetime]:
    """Per device type: a device is online when it reported after this instant (the type's offline rule,
    else ``ONLINE_DEFAULT_MINUTES``). One query over the small catalogue."""
    minutes = dict(Rule.objects.filter(device_type__isnull=False, kind="offline", enabled=True).values_list("device_type_id", "offline_minutes"))
    return {t: now - dt.timedelta(minutes=minutes.get(t) or ONLINE_DEFAULT_MINUTES) for t in DeviceType.objects.values_list("id", flat=True)}


def filter_connectivity(qs: QuerySet[Device], *, online: bool, cutoffs: dict[int, dt.datetime]) -> QuerySet[Device]:
    q = Q(pk__in=[])
    for type_id, cut in cutoffs.items():
        q |= Q(device_type_id=type_id, last_seen_at__gte=cut)
    return qs.filter(q) if online else qs.exclude(q)


def is_online(device: Device, cutoffs: dict[int, dt.datetime]) -> bool:
    cut = cutoffs.get(device.device_type_id)
    return bool(device.last_seen_at and cut and device.last_seen_at >= cut)


def worst_open_severity(*, device_ids: list[int]) -> dict[int, str]:
    """Device id → the most severe severity among its not-cleared alarms (devices without one omitted)."""
    out: dict[int, str] = {}
    rows = Alarm.objects.filter(device_id__in=device_ids).exclude(status="cleared").values_list("device_id", "severity")
    for dev, sev in rows:
        if dev not in out or SEVERITY_RANK.get(sev, 9) < SEVERITY_RANK.get(out[dev], 9):
            out[dev] = sev
    return out


def device_map_points(*, actor: Any, region_id: int | None = None, limit: int = 2000) -> list[dict[str, Any]]:
    """Located devices in scope (own point, else the building's estate point), bounded by ``limit``,
    each with the worst open alarm severity. Two queries."""
    qs = device_list(actor=actor, region_id=region_id).select_related("building__estate").order_by("id")
    points = []
    for d in qs.filter(Q(lat__isnull=False) | Q(building__estate__lat__isnull=False))[:limit]:
        lat, lng = (d.lat, d.lng) if d.lat is not None and d.lng is not None else (d.building.estate.lat, d.building.estate.lng)
        if lat is None or lng is None:
            continue
        points.append({"id": d.pk, "serial": d.serial, "name": str(d), "type": d.device_type.name, "lat": lat, "lng": lng})
    sev = worst_open_severity(device_ids=[p["id"] for p in points])
    for p in points:
        p["severity"] = sev.get(p["id"], "")
    return points


def device_scope_regions(*, actor: Any, limit: int = 500) -> list[Region]:
    """Communities and grids inside the actor's device.view scope (filter choices), by tree path."""
    if not covers_any(actor, IotPerm.DEVICE_VIEW) and not covers_any(actor, IotPerm.ALARM_VIEW):
        return []
    paths = (actor.scope_paths(IotPerm.DEVICE_VIEW) or []) + (actor.scope_paths(IotPerm.ALARM_VIEW) or [])
    qs = Region.objects.filter(level__in=["community", "grid"]).only("id", "name", "path", "level", "depth").order_by("path")
    if actor.scope_paths(IotPerm.DEVICE_VIEW) is not None and actor.scope_paths(IotPerm.ALARM_VIEW) is not None:
        q = Q(pk__in=[])
        for p in paths:
            q |= Q(path__startswith=p)
        qs = qs.filter(q)
    return list(qs[:limit])


def key_meta(device: Device, key: str) -> dict[str, str]:
    """Name and unit of a telemetry key from the device type (the key itself when unknown)."""
    spec = next((k for k in device.device_type.telemetry_keys or [] if isinstance(k, dict) and k.get("key") == key), {})
    return {"name": spec.get("name") or key, "unit": spec.get("unit", "")}


def device_series(*, actor: Any, device_id: int, key: str, start: dt.datetime | None = None, end: dt.datetime | None = None,
                  resolution: str = "auto") -> dict[str, Any]:
    """Chart series of one key of a device in scope (D6): resolution chosen by the span, points bounded."""
    from django.utils import timezone

    from . import rollups

    device = device_get(actor=actor, device_id=device_id)
    end = end or timezone.now()
    start = start or end - dt.timedelta(hours=24)
    s = rollups.series(device_id=device.pk, key=key, start=start, end=end, resolution=resolution)
    return {"device_id": device.pk, "key": key, **key_meta(device, key), "resolution": s.resolution, "start": s.start, "end": s.end,
            "truncated": s.truncated, "points": s.points}


INGEST_STATS_MAX_DAYS = 93


def ingest_stats(*, actor: Any, day_from: dt.date, day_to: dt.date) -> list[dict[str, Any]]:
    """Messages, stored rows, duplicate rows and rejected messages per day and channel (D2), the
    shards of ``IngestCounter`` summed. Platform-wide figures (no region, no personal data): for those
    who manage devices. At most ``INGEST_STATS_MAX_DAYS`` days, newest first."""
    from linli.orgs.perms import check_perm_anywhere

    check_perm_anywhere(actor, IotPerm.DEVICE_EDIT)
    if day_to < day_from or (day_to - day_from).days >= INGEST_STATS_MAX_DAYS:
        raise Invalid("iot.stats_range", Msg(f"日期范围须在{INGEST_STATS_MAX_DAYS}天以内，且结束不早于开始",
                                             f"The range must be at most {INGEST_STATS_MAX_DAYS} days, ending no earlier than it starts"),
                      detail={"day_from": day_from.isoformat(), "day_to": day_to.isoformat()})
    rows = (
        IngestCounter.objects.filter(day__range=(day_from, day_to)).values("day", "channel")
        .annotate(messages=Sum("messages"), stored=Sum("stored"), duplicates=Sum("duplicates"), rejected=Sum("rejected"))
        .order_by("-day", "channel")
    )
    return list(rows)
