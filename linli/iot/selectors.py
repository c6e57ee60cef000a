"""Reads of the iot domain, always scoped through ``for_actor`` (out of scope ⇒ 404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from linli.core.errors import NotFound
from linli.core.scoping import scope_q
from linli.orgs.perms import covers_any
from linli.places.models import Region

from .models import Alarm, AlarmNotification, Device, DeviceType, LatestValue, Rule, Telemetry, hash_secret
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
