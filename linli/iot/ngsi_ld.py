"""NGSI-LD export (D7): devices, latest readings and alarms as FIWARE Smart Data Models entities.

Entity types: ``Device`` (every device), ``DeviceMeasurement`` (one per latest value of a device),
``Streetlight`` (streetlight devices), ``WasteContainer`` (trash bins) and ``Alert`` (alarms). Ids are
URNs: ``urn:ngsi-ld:<Type>:<serial>``, ``urn:ngsi-ld:DeviceMeasurement:<serial>:<key>`` (key
percent-encoded) and ``urn:ngsi-ld:Alert:<alarm id>``.

``key_values`` builds the simplified (keyValues) form, which the Smart Data Models JSON Schemas describe;
``normalize`` turns it into the normalised form (Property / GeoProperty / Relationship, ``observedAt``
on readings, DateTime values as ``{"@type": "DateTime", "@value": …}`` as in the models' examples).
The @context URLs are only named, never fetched. Reads go through ``for_actor`` like the rest of the
API: devices, readings, streetlights and bins need device.view, alerts alarm.view; out of scope ⇒ 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, unquote

from django.db.models import Max, Prefetch, QuerySet

from linli.core.errors import Invalid, NotFound
from linli.core.i18n import Msg

from .models import Alarm, AlarmStatus, Device, LatestValue
from .perms import IotPerm

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
SDM_CONTEXT = {
    "Device": "https://raw.githubusercontent.com/smart-data-models/dataModel.Device/master/context.jsonld",
    "DeviceMeasurement": "https://raw.githubusercontent.com/smart-data-models/dataModel.Device/master/context.jsonld",
    "Streetlight": "https://raw.githubusercontent.com/smart-data-models/dataModel.Streetlighting/master/context.jsonld",
    "WasteContainer": "https://raw.githubusercontent.com/smart-data-models/dataModel.WasteManagement/master/context.jsonld",
    "Alert": "https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/context.jsonld",
}
TYPES = tuple(SDM_CONTEXT)
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000

# Linli telemetry key → SDM ControlledPropertyType (dataModel.Device/device-schema.json enum). Keys without
# an equivalent (heart rate, SpO2, uptime…) are left out; a device with none says ["location"] (required field).
CONTROLLED_PROPERTY = {
    "smoke": "smoke", "temperature": "temperature", "battery": "batterySupply", "gas_lel": "airPollution",
    "leak": "waterLevel", "fill_level": "fillingLevel", "weight": "weight", "tilt": "motion", "water_level": "waterLevel",
    "power": "power", "dim": "light", "on": "power", "pressure": "pressure", "event": "motion", "energy": "electricityConsumption",
}
DEVICE_CATEGORY = {"streetlight": "actuator", "gate": "actuator", "locker": "actuator", "meter": "meter", "charger": "meter",
                   "camera_ai": "multimedia", "plate_camera": "multimedia", "gateway": "network"}
# Linli alarm severity → SDM Alert severity; device category → Alert category; rule code → subCategory.
ALERT_SEVERITY = {"critical": "critical", "major": "high", "minor": "medium", "warning": "low"}
ALERT_CATEGORY = {"wearable": "health", "water_leak": "environment", "trash_bin": "environment", "environment": "environment",
                  "meter": "environment", "hydrant": "security", "manhole_cover": "traffic"}
ALERT_SUBCATEGORY = {"smoke": "buildingFire", "heat": "buildingFire", "gas_leak": "fireRisk", "leak": "flood", "well_flood": "floodRisk",
                     "cover_tilt": "hazardOnRoad", "fall_sos": "fallenPatient", "heart_rate": "heartAttack",
                     "thrown_object": "suspiciousAction", "perimeter_intrusion": "suspiciousAction", "ebike_in_lift": "fireRisk"}

DATETIME_ATTRS = {"dateLastEmptying", "dateLastValueReported", "dateObserved", "dateIssued", "validFrom", "validTo", "dateModified", "dateCreated"}
RELATIONSHIP_ATTRS = {"refDevice", "alertSource"}


def context_for(entity_type: str) -> list[str]:
    return [CORE_CONTEXT, SDM_CONTEXT[entity_type]]


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if t else None


def device_urn(device: Device) -> str:
    return f"urn:ngsi-ld:Device:{device.serial}"


def _location(device: Device) -> dict[str, Any] | None:
    if device.lat is not None and device.lng is not None:
        return {"type": "Point", "coordinates": [device.lng, device.lat]}
    region = device.region
    if region.centroid_lat is not None and region.centroid_lng is not None:
        return {"type": "Point", "coordinates": [region.centroid_lng, region.centroid_lat]}
    return None


def _latest(device: Device) -> dict[str, LatestValue]:
    return {lv.key: lv for lv in device.latest_values.all()}


def _clamp01(v: float) -> float:
    return max(0.0, min(1.0, v))


# ---- keyValues builders (each returns (entity, observedAt per attribute)) -------------------------
Built = tuple[dict[str, Any], dict[str, str]]


def _base(entity_type: str, urn: str, device: Device) -> dict[str, Any]:
    e: dict[str, Any] = {"id": urn, "type": entity_type}
    if device.name:
        e["name"] = device.name
    loc = _location(device)
    if loc:
        e["location"] = loc
    return e


def device_entity(device: Device) -> Built:
    latest = _latest(device)
    keys = [k["key"] for k in device.device_type.telemetry_keys]
    props = sorted({CONTROLLED_PROPERTY[k] for k in keys if k in CONTROLLED_PROPERTY})
    e = _base("Device", device_urn(device), device)
    e.update({"serialNumber": device.serial, "controlledProperty": props or ["location"],
              "deviceCategory": [DEVICE_CATEGORY.get(device.device_type.category, "sensor")], "deviceState": device.status})
    if device.last_seen_at:
        e["dateLastValueReported"] = _iso(device.last_seen_at)
    observed = {}
    battery = latest.get("battery")
    if battery is not None and battery.value is not None:
        e["batteryLevel"] = _clamp01(battery.value / 100)
        observed["batteryLevel"] = _iso(battery.ts)
    return e, observed


def measurement_urn(lv: LatestValue) -> str:
    return f"urn:ngsi-ld:DeviceMeasurement:{lv.device.serial}:{quote(lv.key, safe='-._~')}"


def measurement_entity(lv: LatestValue) -> Built:
    device = lv.device
    unit = next((k.get("unit", "") for k in device.device_type.telemetry_keys if k.get("key") == lv.key), "")
    e = _base("DeviceMeasurement", measurement_urn(lv), device)
    e.update({"controlledProperty": CONTROLLED_PROPERTY.get(lv.key, lv.key), "measurementType": lv.key,
              "deviceType": device.device_type.code, "refDevice": device_urn(device), "dateObserved": _iso(lv.ts)})
    if lv.value is not None:
        e["numValue"] = lv.value
    if lv.value_text is not None:
        e["textValue"] = lv.value_text
    if unit:
        e["unit"] = unit
    return e, {k: _iso(lv.ts) for k in ("numValue", "textValue") if k in e}


def streetlight_entity(device: Device) -> Built:
    latest = _latest(device)
    e = _base("Streetlight", f"urn:ngsi-ld:Streetlight:{device.serial}", device)
    fault = latest.get("lamp_fault")
    e["status"] = "defectiveLamp" if fault is not None and fault.value else "ok"
    observed = {"status": _iso(fault.ts)} if fault is not None else {}
    on, dim, power = latest.get("on"), latest.get("dim"), latest.get("power")
    if on is not None and on.value is not None:
        e["powerState"] = "on" if on.value else "off"
        observed["powerState"] = _iso(on.ts)
    if dim is not None and dim.value is not None:
        e["illuminanceLevel"] = _clamp01(dim.value / 100)
        observed["illuminanceLevel"] = _iso(dim.ts)
    if power is not None and power.value is not None:
        e["powerConsumption"] = power.value
        observed["powerConsumption"] = _iso(power.ts)
    e["refDevice"] = device_urn(device)
    return e, observed


def waste_container_entity(device: Device) -> Built:
    latest = _latest(device)
    e = _base("WasteContainer", f"urn:ngsi-ld:WasteContainer:{device.serial}", device)
    e["status"] = "ok" if device.status == "active" else "unknown"
    observed = {}
    fill, weight = latest.get("fill_level"), latest.get("weight")
    if fill is not None and fill.value is not None:
        e["fillingLevel"] = _clamp01(fill.value / 100)
        observed["fillingLevel"] = _iso(fill.ts)
    if weight is not None and weight.value is not None:
        e["cargoWeight"] = max(0.0, weight.value)
        observed["cargoWeight"] = _iso(weight.ts)
    emptied = getattr(device, "last_emptied", None)
    if emptied:
        e["dateLastEmptying"] = _iso(emptied)
    e["refDevice"] = [device_urn(device)]
    return e, observed


def alert_entity(alarm: Alarm) -> Built:
    device = alarm.device
    e = _base("Alert", f"urn:ngsi-ld:Alert:{alarm.pk}", device)
    e.pop("name", None)
    e.update({"category": ALERT_CATEGORY.get(device.device_type.category, "security"), "severity": ALERT_SEVERITY[alarm.severity],
              "dateIssued": _iso(alarm.started_at), "validFrom": _iso(alarm.started_at), "alertSource": device_urn(device),
              "description": alarm.message, "dateModified": _iso(alarm.updated_at)})
    sub = ALERT_SUBCATEGORY.get(alarm.rule.code)
    if sub:
        e["subCategory"] = sub
    if alarm.status == AlarmStatus.CLEARED:
        e["validTo"] = _iso(alarm.cleared_at)
    if alarm.key:
        e["data"] = {"status": alarm.status, "key": alarm.key, "value": alarm.value if alarm.value is not None else alarm.value_text,
                     "occurrences": alarm.occurrences}
    return e, {}


def normalize(entity: dict[str, Any], observed: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in entity.items():
        if name in ("id", "type", "@context"):
            out[name] = value
        elif name == "location":
            out[name] = {"type": "GeoProperty", "value": value}
        elif name in RELATIONSHIP_ATTRS:
            out[name] = {"type": "Relationship", "object": value}
        elif name in DATETIME_ATTRS:
            out[name] = {"type": "Property", "value": {"@type": "DateTime", "@value": value}}
        else:
            out[name] = {"type": "Property", "value": value}
            if name in observed:
                out[name]["observedAt"] = observed[name]
    return out


def render(built: Built, *, key_values: bool, inline_context: bool, entity_type: str) -> dict[str, Any]:
    entity, observed = built
    out = entity if key_values else normalize(entity, observed)
    if inline_context:
        out["@context"] = context_for(entity_type)
    return out


# ---- scoped reads --------------------------------------------------------------------------------
def _devices(actor: Any) -> QuerySet[Device]:
    return (Device.objects.for_actor(actor, IotPerm.DEVICE_VIEW).select_related("device_type", "region")
            .prefetch_related(Prefetch("latest_values", queryset=LatestValue.objects.order_by("key"))))


def _source(actor: Any, entity_type: str) -> tuple[QuerySet, Any]:
    if entity_type == "Device":
        return _devices(actor), device_entity
    if entity_type == "Streetlight":
        return _devices(actor).filter(device_type__category="streetlight"), streetlight_entity
    if entity_type == "WasteContainer":
        bins = _devices(actor).filter(device_type__category="trash_bin").annotate(last_emptied=Max("collections__collected_at"))
        return bins, waste_container_entity
    if entity_type == "DeviceMeasurement":
        scoped = Device.objects.for_actor(actor, IotPerm.DEVICE_VIEW).values("id")
        qs = LatestValue.objects.filter(device_id__in=scoped).select_related("device__device_type", "device__region")
        return qs, measurement_entity
    if entity_type == "Alert":
        return Alarm.objects.for_actor(actor, IotPerm.ALARM_VIEW).select_related("device__device_type", "device__region", "rule"), alert_entity
    raise Invalid("ngsi_ld.bad_type", Msg("不支持的实体类型 {type}", "Unsupported entity type {type}"), type=entity_type,
                  detail={"supported": list(TYPES)})


def clamp(limit: int | None, offset: int | None) -> tuple[int, int]:
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise Invalid("ngsi_ld.bad_limit", Msg("limit 须在 1 到 {max} 之间", "limit must be between 1 and {max}"), max=MAX_LIMIT)
    if offset is not None and offset < 0:
        raise Invalid("ngsi_ld.bad_offset", Msg("offset 不能为负数", "offset must not be negative"))
    return limit or DEFAULT_LIMIT, offset or 0


def entity_list(*, actor: Any, entity_type: str, limit: int | None = None, offset: int | None = None) -> tuple[list[Built], int | None, QuerySet]:
    """One page of entities of ``entity_type`` in the actor's scope, ordered by id; plus the queryset (for counting)."""
    n, start = clamp(limit, offset)
    qs, build = _source(actor, entity_type)
    qs = qs.order_by("id")
    return [build(obj) for obj in qs[start : start + n]], n, qs


def entity_get(*, actor: Any, urn: str) -> tuple[Built, str]:
    """One entity by URN (out of scope or unknown ⇒ 404)."""
    parts = urn.split(":", 3)
    if len(parts) != 4 or parts[:2] != ["urn", "ngsi-ld"] or parts[2] not in TYPES or not parts[3]:
        raise NotFound("ngsi_ld.not_found")
    entity_type, rest = parts[2], parts[3]
    qs, build = _source(actor, entity_type)
    if entity_type == "Alert":
        obj = qs.filter(pk=int(rest)).first() if rest.isdigit() else None
    elif entity_type == "DeviceMeasurement":
        serial, _, key = rest.rpartition(":")
        obj = qs.filter(device__serial=serial, key=unquote(key)).first() if serial else None
    else:
        obj = qs.filter(serial=rest).first()
    if obj is None:
        raise NotFound("ngsi_ld.not_found")
    return build(obj), entity_type
