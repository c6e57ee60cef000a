"""Writes of the iot domain: provisioning (D1), rules (D3), alarms (D4), offline sweep. Every write by a
person checks permission and scope first and is audited in the same transaction."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Subquery
from django.utils import timezone

from linli.audit.services import record, snapshot
from linli.core import live
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.core.i18n import Msg
from linli.orgs.perms import check_perm_at
from linli.orgs.selectors import holds_at_root
from linli.places.models import Region

from . import escalation, partitions
from . import rules as rules_mod
from .models import (
    Alarm,
    AlarmNotification,
    AlarmOutbox,
    AlarmStatus,
    CommandStatus,
    Device,
    DeviceCommand,
    DeviceStatus,
    DeviceType,
    Rule,
    RuleKind,
    RuleSetVersion,
    RuleState,
    hash_secret,
)
from .perms import IotPerm

SERIAL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
DEVICE_AUDIT_FIELDS = ["serial", "name", "device_type", "vendor", "model", "region", "building", "house", "lat", "lng",
                       "location_note", "owner_org", "gateway", "status"]
IMPORT_MAX_ROWS = 5000


# ---- credentials ---------------------------------------------------------------------------------
def mosquitto_hash(password: str, *, iterations: int = 101, salt: bytes | None = None) -> str:
    """Mosquitto 2 password-file hash ($7$ = PBKDF2-SHA512), so the broker can check device passwords."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_check(password: str, hashed: str) -> bool:
    try:
        _, alg, it, salt, digest = hashed.split("$")
    except ValueError:
        return False
    if alg != "7":
        return False
    calc = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(it))
    return secrets.compare_digest(base64.b64encode(calc).decode(), digest)


@dataclass(frozen=True)
class Credentials:
    """Shown once: the access token and the MQTT username/password of a device."""

    access_token: str
    mqtt_username: str
    mqtt_password: str


def _new_credentials(device: Device, username: str) -> Credentials:
    token = Device.generate_token()
    password = secrets.token_urlsafe(18)
    device.token_hash = hash_secret(token)
    device.token_prefix = token[:10]
    device.mqtt_username = username
    device.mqtt_password_hash = mosquitto_hash(password)
    return Credentials(token, username, password)


# ---- device types --------------------------------------------------------------------------------
def check_catalog_edit(actor: Any, perm: str) -> None:
    """Device types and type-level default rules are shared by the whole tree: root-level holders only."""
    if not holds_at_root(actor, perm):
        raise Forbidden("iot.catalog_forbidden", Msg("只有市级管理员可以修改设备类型和默认规则", "Only city-wide administrators may change device types and default rules"))


def _validate_keys(keys: Any) -> list[dict]:
    if not isinstance(keys, list):
        raise Invalid("device_type.bad_keys", Msg("遥测项格式有误", "telemetry_keys must be a list"))
    seen: set[str] = set()
    for k in keys:
        if not isinstance(k, dict) or not isinstance(k.get("key"), str) or not 0 < len(k["key"]) <= 64 or k["key"] in seen:
            raise Invalid("device_type.bad_keys", Msg("遥测项格式有误", "each telemetry key needs a unique 'key'"))
        if k.get("type", "number") not in ("number", "bool", "string", "event"):
            raise Invalid("device_type.bad_keys", Msg("遥测项类型有误", "type must be number, bool, string or event"))
        seen.add(k["key"])
    return keys


@transaction.atomic
def device_type_create(*, actor: Any, code: str, name: str, category: str, telemetry_keys: list[dict], vendor: str = "", description: str = "") -> DeviceType:
    check_catalog_edit(actor, IotPerm.DEVICE_EDIT)
    obj = DeviceType(code=code, name=name, category=category, telemetry_keys=_validate_keys(telemetry_keys), vendor=vendor, description=description)
    obj.full_clean()
    obj.save()
    record(actor=actor, action="iot.device_type_create", obj=obj, after=snapshot(obj))
    return obj


@transaction.atomic
def device_type_update(*, actor: Any, device_type: DeviceType, changes: dict[str, Any]) -> DeviceType:
    check_catalog_edit(actor, IotPerm.DEVICE_EDIT)
    before = snapshot(device_type)
    for name in ("name", "category", "vendor", "description", "telemetry_keys", "retention_raw_days", "retention_5m_days",
                 "retention_1h_days", "retention_1d_days"):
        if name in changes:
            setattr(device_type, name, _validate_keys(changes[name]) if name == "telemetry_keys" else changes[name])
    device_type.full_clean()
    device_type.save()
    record(actor=actor, action="iot.device_type_update", obj=device_type, before=before, after=snapshot(device_type))
    return device_type


# ---- devices -------------------------------------------------------------------------------------
def _place_device(device: Device) -> None:
    """Building/house fix the grid; an explicit region must agree with them."""
    for place in (device.house, device.building):
        if place is None:
            continue
        if device.region_id is None:
            device.region_id = place.region_id
        elif device.region_id != place.region_id:
            raise Invalid("device.place_mismatch", Msg("设备所属网格与楼栋/房屋不一致", "The device's grid does not match its building/house"))
    if device.region_id is None:
        raise Invalid("device.region_required", Msg("请指定设备所属网格", "A grid (region) is required"))


def _validate_device(device: Device) -> None:
    if not SERIAL_RE.match(device.serial or ""):
        raise Invalid("device.bad_serial", Msg("序列号只能包含字母、数字和 . _ : -，最长64位", "Serial: letters, digits and . _ : - only, at most 64"))
    if device.gateway_id:
        gw = Device.objects.filter(pk=device.gateway_id).select_related("device_type").first()
        if gw is None or gw.device_type.category != "gateway" or gw.pk == device.pk:
            raise Invalid("device.bad_gateway", Msg("接入网关无效", "The gateway is not a gateway device"))
    try:
        device.full_clean(exclude=["token_hash", "token_prefix", "mqtt_username", "mqtt_password_hash"])
    except ValidationError as exc:
        if "serial" in getattr(exc, "message_dict", {}):
            raise Conflict("device.serial_taken", Msg("序列号已存在", "A device with this serial already exists")) from None
        raise


@transaction.atomic
def device_provision(
    *, actor: Any, serial: str, device_type: DeviceType, region: Region | None = None, name: str = "", vendor: str = "", model: str = "",
    building: Any = None, house: Any = None, lat: float | None = None, lng: float | None = None, location_note: str = "",
    owner_org: Any = None, gateway: Device | None = None, status: str = DeviceStatus.ACTIVE,
) -> tuple[Device, Credentials]:
    device = Device(
        serial=serial, device_type=device_type, region_id=region.pk if region else None, name=name, vendor=vendor or device_type.vendor,
        model=model, building=building, house=house, lat=lat, lng=lng, location_note=location_note, owner_org=owner_org,
        gateway=gateway, status=status,
    )
    _place_device(device)
    path = Region.objects.filter(pk=device.region_id).values_list("path", flat=True).first() or ""
    check_perm_at(actor, IotPerm.DEVICE_EDIT, path)
    if gateway is not None:
        check_perm_at(actor, IotPerm.DEVICE_EDIT, gateway.region.path)
    _validate_device(device)
    if Device.objects.filter(Q(serial=serial) | Q(mqtt_username=serial)).exists():
        raise Conflict("device.serial_taken", Msg("序列号已存在", "A device with this serial already exists"))
    creds = _new_credentials(device, serial)
    device.save()
    record(actor=actor, action="iot.device_provision", obj=device, after=snapshot(device, DEVICE_AUDIT_FIELDS), region_path=path)
    return device, creds


@transaction.atomic
def device_update(*, actor: Any, device: Device, changes: dict[str, Any]) -> Device:
    """``changes`` uses column names for relations (region_id, house_id, …)."""
    check_perm_at(actor, IotPerm.DEVICE_EDIT, device.region.path)
    before = snapshot(device, DEVICE_AUDIT_FIELDS)
    allowed = {"name", "vendor", "model", "region_id", "building_id", "house_id", "lat", "lng", "location_note", "owner_org_id",
               "gateway_id", "status", "device_type_id"}
    for k, v in changes.items():
        if k not in allowed:
            raise Invalid("device.bad_field", Msg("不能修改字段 {field}", "Field {field} cannot be changed"), field=k)
        setattr(device, k, v)
    for rel in ("region", "building", "house", "owner_org", "gateway", "device_type"):
        device._state.fields_cache.pop(rel, None)
    if {"region_id", "building_id", "house_id"} & set(changes):
        if "region_id" not in changes:
            device.region_id = None
        _place_device(device)
    if "status" in changes or "device_type_id" in changes:
        from .ingest import DIRECTORY

        DIRECTORY.clear()  # this process at once; other workers within DIRECTORY_TTL seconds
        transaction.on_commit(DIRECTORY.clear)
    new_path = Region.objects.filter(pk=device.region_id).values_list("path", flat=True).get()
    check_perm_at(actor, IotPerm.DEVICE_EDIT, new_path)
    _validate_device(device)
    device.save()
    record(actor=actor, action="iot.device_update", obj=device, before=before, after=snapshot(device, DEVICE_AUDIT_FIELDS), region_path=new_path)
    return device


@transaction.atomic
def device_reset_credentials(*, actor: Any, device: Device) -> Credentials:
    """New access token and MQTT password; the old ones stop working at once."""
    check_perm_at(actor, IotPerm.DEVICE_EDIT, device.region.path)
    creds = _new_credentials(device, device.mqtt_username)
    device.save(update_fields=["token_hash", "token_prefix", "mqtt_password_hash", "updated_at"])
    record(actor=actor, action="iot.device_reset_credentials", obj=device, region_path=device.region.path)
    return creds


@dataclass
class ImportOutcome:
    created: list[tuple[int, Device, Credentials]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"row", "column", "code", "message"}


IMPORT_COLUMNS = ["serial", "type", "region", "name", "vendor", "model", "lat", "lng", "location_note", "gateway"]


def device_import_csv(*, actor: Any, data: bytes | str) -> ImportOutcome:
    """Bulk registration (D1). UTF-8 CSV with a header row; columns ``serial,type,region`` (type code,
    region code) required, ``name,vendor,model,lat,lng,location_note,gateway`` (gateway serial) optional.
    Every row is validated first; if any row has an error nothing is created and all errors are returned
    (row 1 = header). Otherwise all devices are created in one transaction with their credentials."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    out = ImportOutcome()
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("serial", "type", "region") if c not in header]
    if missing:
        out.errors.append({"row": 1, "column": ",".join(missing), "code": "import.missing_columns", "message": f"缺少列: {', '.join(missing)}"})
        return out
    rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    if len(rows) > IMPORT_MAX_ROWS:
        out.errors.append({"row": 1, "column": "", "code": "import.too_many_rows", "message": f"最多{IMPORT_MAX_ROWS}行"})
        return out
    types = {t.code: t for t in DeviceType.objects.all()}
    regions = {r.code: r for r in Region.objects.filter(code__in={r["region"] for r in rows})}
    gateways = {g.serial: g for g in Device.objects.filter(serial__in={r.get("gateway", "") for r in rows} - {""}).select_related("region")}
    taken = set(Device.objects.filter(serial__in=[r["serial"] for r in rows]).values_list("serial", flat=True))
    seen: set[str] = set()
    edit_paths = actor.scope_paths(IotPerm.DEVICE_EDIT) if getattr(actor, "is_authenticated", False) else []
    plans: list[tuple[int, dict[str, Any]]] = []

    def err(row: int, column: str, code: str, message: str) -> None:
        out.errors.append({"row": row, "column": column, "code": code, "message": message})

    for n, r in enumerate(rows, start=2):
        before = len(out.errors)
        serial = r["serial"]
        if not SERIAL_RE.match(serial):
            err(n, "serial", "device.bad_serial", "序列号格式有误")
        elif serial in taken or serial in seen:
            err(n, "serial", "device.serial_taken", "序列号已存在")
        seen.add(serial)
        dtype = types.get(r["type"])
        if dtype is None:
            err(n, "type", "device.unknown_type", f"未知设备类型 {r['type']}")
        region = regions.get(r["region"])
        if region is None or not (edit_paths is None or any(region.path.startswith(p) for p in edit_paths)):
            err(n, "region", "device.unknown_region", f"区域 {r['region']} 不存在或不在管辖范围内")
        coords: dict[str, float | None] = {}
        for c, lo, hi in (("lat", -90, 90), ("lng", -180, 180)):
            raw = r.get(c, "")
            try:
                coords[c] = float(raw) if raw else None
                if coords[c] is not None and not lo <= coords[c] <= hi:
                    raise ValueError
            except ValueError:
                err(n, c, "device.bad_coordinate", f"{c} 无效")
        gw = gateways.get(r.get("gateway", "")) if r.get("gateway") else None
        if r.get("gateway") and gw is None:
            err(n, "gateway", "device.bad_gateway", "接入网关不存在")
        if len(out.errors) == before:
            plans.append((n, {"serial": serial, "device_type": dtype, "region": region, "name": r.get("name", "")[:100],
                              "vendor": r.get("vendor", "")[:80], "model": r.get("model", "")[:80], "location_note": r.get("location_note", "")[:200],
                              "gateway": gw, **coords}))
    if out.errors:
        return out
    try:
        with transaction.atomic():
            for n, kw in plans:
                device, creds = device_provision(actor=actor, **kw)
                out.created.append((n, device, creds))
    except (Invalid, Conflict, NotFound, Forbidden) as exc:
        out.created.clear()
        out.errors.append({"row": n, "column": "", "code": exc.code, "message": exc.message})
    return out


# ---- rules ---------------------------------------------------------------------------------------
def _bump_rules() -> None:
    from .ingest import recheck_rule_book

    recheck_rule_book()  # this process: the next batch reads the version (in this transaction: the new one)
    updated = RuleSetVersion.objects.filter(id=1).update(version=F("version") + 1)
    if not updated:
        RuleSetVersion.objects.get_or_create(id=1, defaults={"version": 1})


def check_rule_edit(actor: Any, *, device_type: DeviceType | None, device: Device | None) -> None:
    if device is not None:
        check_perm_at(actor, IotPerm.RULE_EDIT, device.region.path)
    else:
        check_catalog_edit(actor, IotPerm.RULE_EDIT)


def _clean_rule(rule: Rule) -> None:
    if rule.kind == RuleKind.CONDITION:
        rule.conditions = rules_mod.validate_conditions(rule.conditions, rule.match)
        rule.offline_minutes = None
    elif rule.kind == RuleKind.OFFLINE:
        if not rule.offline_minutes or rule.offline_minutes < 1:
            raise Invalid("rule.offline_minutes", Msg("离线规则须设置离线时长(分钟)", "An offline rule needs offline_minutes ≥ 1"))
        rule.conditions = []
    if (rule.device_type_id is None) == (rule.device_id is None):
        raise Invalid("rule.target", Msg("规则须属于设备类型或单个设备之一", "A rule belongs to exactly one device type or one device"))
    rule.full_clean(validate_constraints=False)
    dup = Rule.objects.filter(code=rule.code).exclude(pk=rule.pk)
    dup = dup.filter(device_type_id=rule.device_type_id) if rule.device_type_id else dup.filter(device_id=rule.device_id)
    if dup.exists():
        raise Conflict("rule.code_taken", Msg("规则代码已存在", "A rule with this code already exists here"))


@transaction.atomic
def rule_create(*, actor: Any, code: str, name: str, device_type: DeviceType | None = None, device: Device | None = None,
                kind: str = RuleKind.CONDITION, conditions: list[dict] | None = None, match: str = "all", duration_s: int = 0,
                offline_minutes: int | None = None, severity: str = "major", message: str = "", create_case: bool = False,
                enabled: bool = True) -> Rule:
    check_rule_edit(actor, device_type=device_type, device=device)
    rule = Rule(code=code, name=name, device_type=device_type, device=device, kind=kind, conditions=conditions or [], match=match,
                duration_s=duration_s, offline_minutes=offline_minutes, severity=severity, message=message,
                create_case=create_case, enabled=enabled)
    _clean_rule(rule)
    rule.save()
    _bump_rules()
    record(actor=actor, action="iot.rule_create", obj=rule, after=snapshot(rule), region_path=device.region.path if device else "")
    return rule


@transaction.atomic
def rule_update(*, actor: Any, rule: Rule, changes: dict[str, Any]) -> Rule:
    check_rule_edit(actor, device_type=rule.device_type, device=rule.device)
    before = snapshot(rule)
    allowed = {"name", "conditions", "match", "duration_s", "offline_minutes", "severity", "message", "create_case", "enabled"}
    for k, v in changes.items():
        if k not in allowed:
            raise Invalid("rule.bad_field", Msg("不能修改字段 {field}", "Field {field} cannot be changed"), field=k)
        setattr(rule, k, v)
    _clean_rule(rule)
    rule.save()
    if {"conditions", "match", "duration_s"} & set(changes):
        RuleState.objects.filter(rule=rule, active=False).delete()  # pending timers restart under the new definition
    _bump_rules()
    record(actor=actor, action="iot.rule_update", obj=rule, before=before, after=snapshot(rule), region_path=rule.device.region.path if rule.device else "")
    return rule


@transaction.atomic
def rule_delete(*, actor: Any, rule: Rule) -> None:
    check_rule_edit(actor, device_type=rule.device_type, device=rule.device)
    if rule.alarms.exists():
        raise Conflict("rule.has_alarms", Msg("该规则已产生告警，请停用而不是删除", "This rule has alarms: disable it instead of deleting it"))
    before = snapshot(rule)
    record(actor=actor, action="iot.rule_delete", obj=rule, before=before, region_path=rule.device.region.path if rule.device else "")
    rule.delete()
    _bump_rules()


# ---- alarms --------------------------------------------------------------------------------------
def _format(rule: rules_mod.CompiledRule, key: str, value: float | None, text: str) -> str:
    if value is not None:
        return f"{rule.message}（{key}={value:g}）"[:300]
    if text:
        return f"{rule.message}（{key}={text[:60]}）"[:300]
    return rule.message[:300]


def alarm_raise(*, device_id: int, region_id: int, rule: rules_mod.CompiledRule, at: dt.datetime, key: str = "",
                value: float | None = None, value_text: str = "", audit: list[dict[str, Any]] | None = None,
                placed: tuple[str, int | None] | None = None) -> Alarm | None:
    """Open an alarm for (device, rule), or count another occurrence on the open one. Returns the new
    alarm or None. Notifies the responsible accounts and queues a case when the rule asks for one.
    ``placed``: (region path, owner organisation id) when the caller already knows them (the ingest
    directory does), else read here."""
    try:
        with transaction.atomic():
            alarm = Alarm.objects.create(
                device_id=device_id, rule_id=rule.id, region_id=region_id, severity=rule.severity, started_at=at, last_at=at,
                key=key, value=value, value_text=(value_text or "")[:200], message=_format(rule, key, value, value_text),
                next_escalation_at=escalation.next_escalation(rule.severity, 0, max(at, timezone.now())),
            )
    except IntegrityError:
        Alarm.objects.filter(device_id=device_id, rule_id=rule.id).exclude(status=AlarmStatus.CLEARED).update(
            occurrences=F("occurrences") + 1, last_at=at
        )
        return None
    path, owner_org_id = placed or (Region.objects.filter(pk=region_id)
                                    .annotate(owner=Subquery(Device.objects.filter(pk=device_id).values("owner_org_id")[:1]))
                                    .values_list("path", "owner").get())
    level, accounts = escalation.first_tier(path, owner_org_id)
    escalation.notify(alarm, accounts)
    if level:
        alarm.escalation_level = level
        alarm.next_escalation_at = escalation.next_escalation(rule.severity, level, max(at, timezone.now()))
        Alarm.objects.filter(pk=alarm.pk).update(escalation_level=level, next_escalation_at=alarm.next_escalation_at)
    live.publish("alarms", {"kind": "raised", "id": alarm.pk, "region": path, "severity": rule.severity})
    if rule.create_case:
        AlarmOutbox.objects.create(alarm=alarm, kind="open_case")  # a new alarm has no outbox row yet
    entry = {"actor": None, "action": "iot.alarm_raise", "obj": alarm, "after": snapshot(alarm), "region_path": path}
    if audit is not None:
        audit.append(entry)  # the caller writes a batch of entries at once (audit.record_many)
    else:
        record(**entry)
    return alarm


def alarm_auto_clear(*, device_id: int, rule_id: int, at: dt.datetime, audit: list[dict[str, Any]] | None = None,
                     region_path: str = "") -> bool:
    """The condition ended: clear the open alarm of (device, rule), if any. ``audit``: as for
    ``alarm_raise`` (an ingest batch appends all its entries at once, at the end of its transaction).
    ``region_path``: the device's, when the caller knows it (else read). The lookup selects only the
    alarm's own few columns and joins nothing: planning the wide join cost more than running it."""
    alarm = (Alarm.objects.select_for_update().only("id", "status", "started_at", "region_id", "device_id", "rule_id")
             .filter(device_id=device_id, rule_id=rule_id).exclude(status=AlarmStatus.CLEARED).first())
    if alarm is None:
        return False
    path = region_path or Region.objects.filter(pk=alarm.region_id).values_list("path", flat=True).get()
    before = snapshot(alarm, ["status"])
    alarm.status, alarm.cleared_at, alarm.next_escalation_at = AlarmStatus.CLEARED, max(at, alarm.started_at), None
    alarm.save(update_fields=["status", "cleared_at", "next_escalation_at", "updated_at"])
    live.publish("alarms", {"kind": "cleared", "id": alarm.pk, "region": path})
    entry = {"actor": None, "action": "iot.alarm_auto_clear", "obj": alarm, "before": before,
             "after": snapshot(alarm, ["status", "cleared_at"]), "region_path": path}
    if audit is not None:
        audit.append(entry)
    else:
        record(**entry)
    return True


def check_alarm_action(actor: Any, alarm: Alarm, *, to: str) -> None:
    check_perm_at(actor, IotPerm.ALARM_ACK, alarm.region.path)
    allowed = {AlarmStatus.ACKNOWLEDGED: {AlarmStatus.ACTIVE}, AlarmStatus.CLEARED: {AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED}}[to]
    if alarm.status not in allowed:
        raise Conflict("alarm.invalid_transition", Msg("告警当前状态为“{state}”，不能执行此操作", "The alarm is {state}; this action is not possible"),
                       state=alarm.get_status_display(), detail={"status": alarm.status})


@transaction.atomic
def alarm_acknowledge(*, actor: Any, alarm: Alarm, note: str = "") -> Alarm:
    alarm = Alarm.objects.select_for_update().select_related("region").get(pk=alarm.pk)
    check_alarm_action(actor, alarm, to=AlarmStatus.ACKNOWLEDGED)
    before = snapshot(alarm, ["status"])
    alarm.status, alarm.acknowledged_by, alarm.acknowledged_at = AlarmStatus.ACKNOWLEDGED, actor, timezone.now()
    alarm.note, alarm.next_escalation_at = note[:300] or alarm.note, None
    alarm.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "note", "next_escalation_at", "updated_at"])
    live.publish("alarms", {"kind": "acknowledged", "id": alarm.pk, "region": alarm.region.path})
    record(actor=actor, action="iot.alarm_acknowledge", obj=alarm, before=before, after=snapshot(alarm, ["status", "note"]), region_path=alarm.region.path)
    return alarm


@transaction.atomic
def alarm_clear(*, actor: Any, alarm: Alarm, note: str = "") -> Alarm:
    """Clear by a person. If the condition still holds, the rule stays active and raises again only
    after the readings have returned to normal (no alarm storm)."""
    alarm = Alarm.objects.select_for_update().select_related("region").get(pk=alarm.pk)
    check_alarm_action(actor, alarm, to=AlarmStatus.CLEARED)
    before = snapshot(alarm, ["status"])
    alarm.status, alarm.cleared_by, alarm.cleared_at = AlarmStatus.CLEARED, actor, timezone.now()
    alarm.note, alarm.next_escalation_at = note[:300] or alarm.note, None
    alarm.save(update_fields=["status", "cleared_by", "cleared_at", "note", "next_escalation_at", "updated_at"])
    live.publish("alarms", {"kind": "cleared", "id": alarm.pk, "region": alarm.region.path})
    record(actor=actor, action="iot.alarm_clear", obj=alarm, before=before, after=snapshot(alarm, ["status", "note"]), region_path=alarm.region.path)
    return alarm


@transaction.atomic
def notification_mark_read(*, actor: Any, notification_id: int) -> AlarmNotification:
    n = AlarmNotification.objects.filter(pk=notification_id, account_id=actor.pk).first()
    if n is None:
        raise NotFound("notification.not_found")
    if n.read_at is None:
        n.read_at = timezone.now()
        n.save(update_fields=["read_at"])
    return n


# ---- periodic sweep (offline / no data, pending durations, partitions) ---------------------------
@transaction.atomic
def offline_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise offline alarms for devices silent longer than their offline rule; raise condition rules
    whose minimum duration has passed while the last reading still meets them; create partitions.
    Idempotent: safe to run from several schedulers at once (row locks + one open alarm per rule)."""
    from .ingest import rule_book

    now = now or timezone.now()
    book = rule_book()
    out = {"offline": 0, "promoted": 0, "partitions": len(partitions.ensure_partitions())}
    by_id: dict[int, rules_mod.CompiledRule] = {}
    for rules in book.by_type.values():
        by_id.update({r.id: r for r in rules.values()})
    for over in book.overrides.values():
        by_id.update({r.id: r for r in over.values() if r is not None})
    # Offline: type defaults (minus devices overriding that code) and device overrides.
    candidates: list[tuple[rules_mod.CompiledRule, Any]] = []
    overridden_offline = {d for d, over in book.overrides.items() if "offline" in over}
    for type_id, rules in book.by_type.items():
        r = rules.get("offline")
        if r is not None and r.kind == RuleKind.OFFLINE:
            qs = Device.objects.filter(device_type_id=type_id).exclude(id__in=overridden_offline)
            candidates.append((r, qs))
    for dev_id, over in book.overrides.items():
        r = over.get("offline")
        if r is not None and r.kind == RuleKind.OFFLINE:
            candidates.append((r, Device.objects.filter(id=dev_id)))
    for r, qs in candidates:
        cut = now - dt.timedelta(minutes=r.offline_minutes or 0)
        stale = (
            qs.filter(status=DeviceStatus.ACTIVE)
            .filter(Q(last_seen_at__lt=cut) | Q(last_seen_at__isnull=True, created_at__lt=cut))
            .exclude(id__in=RuleState.objects.filter(rule_id=r.id, active=True).values("device_id"))
            .values_list("id", "region_id", "last_seen_at")
        )
        for dev_id, region_id, last_seen in stale:
            _, created = RuleState.objects.update_or_create(device_id=dev_id, rule_id=r.id, defaults={"active": True, "last_ts": last_seen})
            alarm_raise(device_id=dev_id, region_id=region_id, rule=r, at=now)
            out["offline"] += 1
    # Pending conditions whose minimum duration has elapsed.
    for st in RuleState.objects.select_for_update(of=("self",)).filter(pending_since__isnull=False, active=False).select_related("device"):
        r = by_id.get(st.rule_id)
        if r is None or st.device.status != DeviceStatus.ACTIVE or now - st.pending_since < r.duration:
            continue
        st.active, st.pending_since = True, None
        st.save(update_fields=["active", "pending_since"])
        key = next(iter(sorted(r.keys)), "")
        alarm_raise(device_id=st.device_id, region_id=st.device.region_id, rule=r, at=now, key=key, value=st.last_value)
        out["promoted"] += 1
    return out


# ---- commands (D5) -------------------------------------------------------------------------------
def _hhmm(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v) is not None


# method → (device categories allowed, params check). An empty category set = every device.
COMMAND_METHODS: dict[str, tuple[set[str], Any]] = {
    "setPower": ({"streetlight"}, lambda p: set(p) == {"on"} and isinstance(p["on"], bool)),
    "setDim": ({"streetlight"}, lambda p: set(p) == {"level"} and isinstance(p["level"], int) and not isinstance(p["level"], bool)
               and 0 <= p["level"] <= 100),
    "setSchedule": ({"streetlight"}, lambda p: set(p) <= {"on", "off", "dim"} and _hhmm(p.get("on")) and _hhmm(p.get("off"))
                    and (isinstance(p.get("dim", 100), int) and 0 <= p.get("dim", 100) <= 100)),
    "openGate": ({"gate"}, lambda p: set(p) <= {"seconds"} and (isinstance(p.get("seconds", 5), int) and 1 <= p.get("seconds", 5) <= 300)),
    "reboot": (set(), lambda p: p == {}),
}
COMMAND_TIMEOUT_RANGE = (1, 24 * 3600)


@transaction.atomic
def command_send(*, actor: Any, device: Device, method: str, params: dict[str, Any] | None = None, timeout_s: int = 30) -> DeviceCommand:
    """Queue a command for ``device``; after commit it is published over MQTT to
    ``linli/v1/<device>/rpc/request/<rpc_id>`` (HTTP devices poll for it instead)."""
    device = Device.objects.select_for_update().select_related("device_type", "region").get(pk=device.pk)
    check_perm_at(actor, IotPerm.COMMAND_SEND, device.region.path)
    params = {} if params is None else params
    spec = COMMAND_METHODS.get(method)
    if spec is None or (spec[0] and device.device_type.category not in spec[0]):
        raise Invalid("command.bad_method", Msg("该设备不支持指令 {method}", "This device does not support the command {method}"), method=method,
                      detail={"allowed": [m for m, (cats, _) in COMMAND_METHODS.items() if not cats or device.device_type.category in cats]})
    if not isinstance(params, dict) or not spec[1](params):
        raise Invalid("command.bad_params", Msg("指令参数有误", "Invalid parameters for {method}"), method=method)
    if not COMMAND_TIMEOUT_RANGE[0] <= timeout_s <= COMMAND_TIMEOUT_RANGE[1]:
        raise Invalid("command.bad_timeout", Msg("超时时间须在1秒到24小时之间", "timeout_s must be between 1 s and 24 h"))
    if device.status != DeviceStatus.ACTIVE:
        raise Conflict("command.device_inactive", Msg("设备未启用，不能下发指令", "The device is not active"))
    last = DeviceCommand.objects.filter(device=device).order_by("-rpc_id").values_list("rpc_id", flat=True).first() or 0
    cmd = DeviceCommand.objects.create(device=device, region_id=device.region_id, rpc_id=last + 1, method=method, params=params,
                                       created_by=actor, expires_at=timezone.now() + dt.timedelta(seconds=timeout_s))
    record(actor=actor, action="iot.command_send", obj=cmd, after=snapshot(cmd, ["device", "rpc_id", "method", "params", "status"]),
           region_path=device.region.path)
    from .tasks import command_publish_task

    transaction.on_commit(lambda: command_publish_task.enqueue(cmd.pk))
    return cmd


def _command_transition(cmd: DeviceCommand, *, status: str, action: str, **fields: Any) -> bool:
    """Move an open command to ``status`` (a no-op for a command already answered or timed out)."""
    allowed = (CommandStatus.PENDING,) if status == CommandStatus.DELIVERED else DeviceCommand.OPEN
    updated = DeviceCommand.objects.filter(pk=cmd.pk, status__in=allowed).update(status=status, updated_at=timezone.now(), **fields)
    if updated:
        record(actor=None, action=action, obj=cmd, before={"status": cmd.status}, after={"status": status},
               region_path=Region.objects.filter(pk=cmd.region_id).values_list("path", flat=True).first() or "")
    return bool(updated)


@transaction.atomic
def command_mark_delivered(*, command: DeviceCommand) -> bool:
    return _command_transition(command, status=CommandStatus.DELIVERED, action="iot.command_delivered", delivered_at=timezone.now())


@transaction.atomic
def command_respond(*, device: Device, rpc_id: int, payload: Any) -> DeviceCommand | None:
    """The device's answer to request ``rpc_id``: acknowledged, or failed when the payload is an object
    with an ``error`` member (ThingsBoard convention). Duplicates and late answers change nothing."""
    cmd = DeviceCommand.objects.filter(device=device, rpc_id=rpc_id).first()
    if cmd is None:
        return None
    failed = isinstance(payload, dict) and "error" in payload
    now = timezone.now()
    _command_transition(cmd, status=CommandStatus.FAILED if failed else CommandStatus.ACKNOWLEDGED, action="iot.command_response",
                        responded_at=now, response=payload, delivered_at=cmd.delivered_at or now)
    cmd.refresh_from_db()
    return cmd


def command_next_for_http(*, device: Device) -> DeviceCommand | None:
    """The oldest open, unexpired command of an HTTP-polling device; marks it delivered."""
    cmd = DeviceCommand.objects.filter(device=device, status__in=DeviceCommand.OPEN, expires_at__gt=timezone.now()).order_by("rpc_id").first()
    if cmd is not None and cmd.status == CommandStatus.PENDING:
        command_mark_delivered(command=cmd)
    return cmd


def command_timeouts(*, now: dt.datetime | None = None) -> int:
    """Mark open commands past their deadline timed_out (idempotent; run every few seconds)."""
    now = now or timezone.now()
    n = 0
    for cmd in DeviceCommand.objects.filter(status__in=DeviceCommand.OPEN, expires_at__lte=now).order_by("id")[:5000]:
        with transaction.atomic():
            n += _command_transition(cmd, status=CommandStatus.TIMED_OUT, action="iot.command_timeout")
    return n
