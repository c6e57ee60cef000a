"""Writes for access control (A1–A5). Keyword-only, atomic, permission and scope checked first
(out of scope ⇒ 404), audited. Every write that changes a gate decision appends an ``AccessChange``
row in the same transaction and, after commit, signals the decision index (``decision.signal_change``).
What a guard must see at once — denied entries, visitor arrivals and registrations, watch-list hits —
is published on the live channel "access" after commit (ids, kinds and region path only; ``live``).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from linli.audit.services import record, snapshot
from linli.core import live, pii
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound, validation_detail
from linli.core.i18n import Msg
from linli.core.validators import normalise_id_number, normalise_phone
from linli.iot.services import mosquitto_hash
from linli.orgs.models import hash_token
from linli.orgs.perms import check_perm_at, covers
from linli.people.models import Consent, ConsentPurpose, Person, Residency
from linli.places.models import Building, Estate, House, Region, Unit

from . import decision, tokens
from .models import (
    BIOMETRIC_KINDS,
    AccessAlarm,
    AccessBlock,
    AccessChange,
    AccessEvent,
    AccessHoliday,
    AccessRule,
    Audience,
    Credential,
    CredentialKind,
    CredentialStatus,
    Gate,
    GateGroup,
    GateKind,
    GroupLevel,
    InviteStatus,
    Result,
    Source,
    VisitorInvite,
    WatchKind,
    WatchListEntry,
    WatchPolicy,
)
from .perms import AccessPerm as P

CONSENT_FOR = {CredentialKind.FACE: ConsentPurpose.BIOMETRIC_FACE, CredentialKind.FINGERPRINT: ConsentPurpose.BIOMETRIC_FINGERPRINT}
CARD_RE = re.compile(r"^[0-9A-F]{4,32}$")
PIN_RE = re.compile(r"^\d{6,8}$")
PLATE_RE = re.compile(r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")
MAX_UPLOAD = 1000
VISIT_MAX = dt.timedelta(days=7)


# ---- helpers ------------------------------------------------------------------------------------


def changed(entity: str, entity_id: int = 0) -> None:
    """Record that decisions depending on ``entity`` moved; the index catches up after commit."""
    AccessChange.objects.create(entity=entity, entity_id=entity_id)
    transaction.on_commit(decision.signal_change)


def _clean(obj: Any, exclude: list[str] | None = None) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=True)
    except ValidationError as exc:
        raise Invalid("access.invalid", Msg("数据校验失败", "Validation failed"), detail=validation_detail(exc)) from exc


def _actor_id(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _is_self(actor: Any, person: Person) -> bool:
    return bool(getattr(actor, "is_active", False)) and getattr(actor, "person_id", None) == person.pk


def _check_person(actor: Any, perm: str, person: Person) -> str:
    path = person.region.path
    check_perm_at(actor, perm, path, code="access.person_not_found")
    return path


def normalise_plate(plate: str) -> str:
    return pii.normalise(plate).replace("·", "").replace("-", "")


def _check_plate(plate: str) -> str:
    p = normalise_plate(plate or "")
    if p and not PLATE_RE.match(p):
        raise Invalid("access.plate_invalid", Msg("车牌号格式不正确", "Invalid licence plate"))
    return p


# ---- gate groups and gates ----------------------------------------------------------------------


@transaction.atomic
def gate_group_create(*, actor: Any, code: str, name: str, level: str, estate: Estate, building: Building | None = None,
                      unit: Unit | None = None, is_active: bool = True) -> GateGroup:
    """An estate-, building- or unit-level group; its region is the estate's community or the building's grid."""
    if level not in GroupLevel.values:
        raise Invalid("access.group_level", Msg("门禁组层级无效", "Unknown gate group level"), detail={"allowed": list(GroupLevel.values)})
    if unit is not None:
        building = building or unit.building
        if unit.building_id != building.pk:
            raise Invalid("access.group_unit_building", Msg("单元不属于该楼栋", "The unit is not in this building"))
    if building is not None and building.estate_id != estate.pk:
        raise Invalid("access.group_building_estate", Msg("楼栋不属于该小区", "The building is not in this estate"))
    if level != GroupLevel.ESTATE and building is None or level == GroupLevel.UNIT and unit is None:
        raise Invalid("access.group_target_missing", Msg("楼栋/单元门禁组须指定楼栋/单元", "Building/unit groups need their building/unit"))
    if level == GroupLevel.ESTATE:
        building = unit = None
    elif level == GroupLevel.BUILDING:
        unit = None
    region = building.region if building is not None else estate.region
    check_perm_at(actor, P.MANAGE, region.path, code="access.estate_not_found")
    if GateGroup.objects.filter(code=code).exists():
        raise Conflict("access.group_code_taken", Msg("门禁组编码已存在", "Gate group code already exists"))
    g = GateGroup(code=code, name=name, level=level, estate=estate, building=building, unit=unit, region=region, is_active=is_active)
    _clean(g)
    g.save()
    record(actor=actor, action="access.group_create", obj=g, after=snapshot(g), region_path=region.path)
    changed("all")
    return g


@transaction.atomic
def gate_group_update(*, actor: Any, group: GateGroup, name: str | None = None, is_active: bool | None = None) -> GateGroup:
    g = GateGroup.objects.select_for_update().select_related("region").get(pk=group.pk)
    check_perm_at(actor, P.MANAGE, g.region.path)
    before = snapshot(g)
    if name is not None:
        g.name = name
    if is_active is not None:
        g.is_active = is_active
    _clean(g)
    g.save()
    record(actor=actor, action="access.group_update", obj=g, before=before, after=snapshot(g), region_path=g.region.path)
    changed("all")
    return g


@transaction.atomic
def gate_group_delete(*, actor: Any, group: GateGroup) -> None:
    check_perm_at(actor, P.MANAGE, group.region.path)
    if group.gates.exists():
        raise Conflict("access.group_has_gates", Msg("门禁组下仍有门禁点", "The group still has gates"))
    before, pk = snapshot(group), group.pk
    group.delete()
    record(actor=actor, action="access.group_delete", object_type="access.gategroup", object_id=pk, before=before,
           region_path=group.region.path)
    changed("all")


@transaction.atomic
def gate_create(*, actor: Any, code: str, name: str, group: GateGroup, kind: str = GateKind.DOOR, device_serial: str = "") -> tuple[Gate, str]:
    """A gate in a group; returns (gate, raw token). The token is shown once and stored as SHA-256."""
    check_perm_at(actor, P.MANAGE, group.region.path, code="access.group_not_found")
    if Gate.objects.filter(code=code).exists():
        raise Conflict("access.gate_code_taken", Msg("门禁点编码已存在", "Gate code already exists"))
    raw = Gate.generate_token()
    gate = Gate(code=code, name=name, group=group, kind=kind, region=group.region, device_serial=device_serial,
                token_hash=hash_token(raw), token_prefix=raw[:10], mqtt_password_hash=mosquitto_hash(raw))
    _clean(gate)
    gate.save()
    record(actor=actor, action="access.gate_create", obj=gate, after=snapshot(gate, fields=GATE_AUDIT), region_path=group.region.path)
    changed("all")
    return gate, raw


GATE_AUDIT = ["code", "name", "group", "kind", "region", "device_serial", "is_active", "token_prefix"]


@transaction.atomic
def gate_update(*, actor: Any, gate: Gate, **changes: Any) -> Gate:
    allowed = {"name", "kind", "device_serial", "is_active", "group"}
    unknown = set(changes) - allowed
    if unknown:
        raise Invalid("access.unknown_field", Msg("不可修改的字段", "These fields cannot be changed"), detail={"fields": sorted(unknown)})
    g = Gate.objects.select_for_update().select_related("region").get(pk=gate.pk)
    check_perm_at(actor, P.MANAGE, g.region.path)
    before = snapshot(g, fields=GATE_AUDIT)
    new_group = changes.pop("group", None)
    if new_group is not None:
        check_perm_at(actor, P.MANAGE, new_group.region.path, code="access.group_not_found")
        g.group, g.region = new_group, new_group.region
    for k, v in changes.items():
        setattr(g, k, v)
    _clean(g)
    g.save()
    record(actor=actor, action="access.gate_update", obj=g, before=before, after=snapshot(g, fields=GATE_AUDIT), region_path=g.region.path)
    changed("all")
    return g


@transaction.atomic
def gate_token_reset(*, actor: Any, gate: Gate) -> str:
    check_perm_at(actor, P.MANAGE, gate.region.path)
    raw = Gate.generate_token()
    Gate.objects.filter(pk=gate.pk).update(token_hash=hash_token(raw), token_prefix=raw[:10], mqtt_password_hash=mosquitto_hash(raw),
                                           updated_at=timezone.now())
    record(actor=actor, action="access.gate_token_reset", obj=gate, region_path=gate.region.path)
    changed("all")
    return raw


@transaction.atomic
def gate_delete(*, actor: Any, gate: Gate) -> None:
    check_perm_at(actor, P.MANAGE, gate.region.path)
    if AccessEvent.objects.filter(gate=gate).exists():
        raise Conflict("access.gate_has_events", Msg("门禁点已有通行记录，只能停用", "The gate has events: deactivate it instead"))
    before, pk = snapshot(gate, fields=GATE_AUDIT), gate.pk
    gate.delete()
    record(actor=actor, action="access.gate_delete", object_type="access.gate", object_id=pk, before=before, region_path=gate.region.path)
    changed("all")


# ---- rules and holidays (A2) ---------------------------------------------------------------------


@transaction.atomic
def rule_create(*, actor: Any, group: GateGroup, audience: str, weekdays: int = 0b1111111, start_minute: int = 0,
                end_minute: int = 1440, role: Any = None, name: str = "") -> AccessRule:
    """A time window (Asia/Shanghai) for residents, or for staff holding ``role``, at ``group``."""
    check_perm_at(actor, P.MANAGE, group.region.path, code="access.group_not_found")
    if audience == Audience.STAFF and role is None:
        raise Invalid("access.rule_role_required", Msg("工作人员规则须指定角色", "Staff rules need a role"))
    if audience == Audience.RESIDENTS:
        role = None
    if not (0 <= start_minute < 1440 and 0 < end_minute <= 1440) or start_minute == end_minute:
        raise Invalid("access.rule_window", Msg("时段无效", "Invalid time window"))
    rule = AccessRule(group=group, audience=audience, role=role, weekdays=weekdays, start_minute=start_minute,
                      end_minute=end_minute, name=name)
    _clean(rule)
    rule.save()
    record(actor=actor, action="access.rule_create", obj=rule, after=snapshot(rule), region_path=group.region.path)
    changed("all")
    return rule


@transaction.atomic
def rule_delete(*, actor: Any, rule: AccessRule) -> None:
    path = rule.group.region.path
    check_perm_at(actor, P.MANAGE, path)
    before, pk = snapshot(rule), rule.pk
    rule.delete()
    record(actor=actor, action="access.rule_delete", object_type="access.accessrule", object_id=pk, before=before, region_path=path)
    changed("all")


@transaction.atomic
def holiday_add(*, actor: Any, region: Region, date: dt.date, name: str) -> AccessHoliday:
    check_perm_at(actor, P.MANAGE, region.path, code="access.region_not_found")
    if AccessHoliday.objects.filter(region=region, date=date).exists():
        raise Conflict("access.holiday_exists", Msg("该日期已设为节假日", "This date is already a holiday"))
    h = AccessHoliday.objects.create(region=region, date=date, name=name[:50])
    record(actor=actor, action="access.holiday_add", obj=h, after=snapshot(h), region_path=region.path)
    changed("all")
    return h


@transaction.atomic
def holiday_remove(*, actor: Any, holiday: AccessHoliday) -> None:
    check_perm_at(actor, P.MANAGE, holiday.region.path)
    before, pk = snapshot(holiday), holiday.pk
    holiday.delete()
    record(actor=actor, action="access.holiday_remove", object_type="access.accessholiday", object_id=pk, before=before,
           region_path=holiday.region.path)
    changed("all")


# ---- blocks ---------------------------------------------------------------------------------------


@transaction.atomic
def block_add(*, actor: Any, reason: str, person: Person | None = None, group: GateGroup | None = None,
              starts_at: dt.datetime | None = None, ends_at: dt.datetime | None = None) -> AccessBlock:
    """Temporarily block a person (at every gate, or only at ``group``) or a whole group."""
    if person is None and group is None:
        raise Invalid("access.block_target", Msg("须指定人员或门禁组", "Name a person or a gate group"))
    region = group.region if group is not None else person.region
    check_perm_at(actor, P.MANAGE, region.path, code="access.block_target_not_found")
    if person is not None:
        _check_person(actor, P.MANAGE, person)
    if not reason.strip():
        raise Invalid("access.block_reason", Msg("请填写禁行原因", "A reason is required"))
    b = AccessBlock(region=region, person=person, group=group, starts_at=starts_at or timezone.now(), ends_at=ends_at,
                    reason=reason.strip()[:200], created_by=_actor_id(actor))
    _clean(b, exclude=["created_by"])
    b.save()
    record(actor=actor, action="access.block_add", obj=b, after=snapshot(b), region_path=region.path)
    changed("block", b.pk)
    return b


@transaction.atomic
def block_remove(*, actor: Any, block: AccessBlock) -> AccessBlock:
    b = AccessBlock.objects.select_for_update().select_related("region").get(pk=block.pk)
    check_perm_at(actor, P.MANAGE, b.region.path)
    if b.lifted_at is not None:
        raise Conflict("access.block_lifted", Msg("已解除", "Already lifted"))
    before = snapshot(b)
    b.lifted_at = timezone.now()
    b.save(update_fields=["lifted_at", "updated_at"])
    record(actor=actor, action="access.block_remove", obj=b, before=before, after=snapshot(b), region_path=b.region.path)
    changed("block", b.pk)
    return b


# ---- credentials (A1) -------------------------------------------------------------------------------


def _current_house(person: Person, house: House | None) -> House:
    qs = Residency.objects.filter(person=person, move_out__isnull=True).select_related("house__region").order_by("id")
    if house is not None:
        qs = qs.filter(house=house)
    r = qs.first()
    if r is None:
        raise Invalid("access.not_resident", Msg("该人员不是此房屋的现住人员", "This person does not currently live in this house"))
    return r.house


def has_biometric_consent(person: Person, kind: str) -> bool:
    purpose = CONSENT_FOR.get(kind)
    return purpose is not None and Consent.objects.filter(person=person, purpose=purpose, withdrawn_at__isnull=True).exists()


def other_ways_in(person: Person) -> list[str]:
    """Non-biometric kinds the person can use; [] means the console must offer a card or QR (face is never the only way)."""
    return sorted(set(Credential.objects.filter(person=person, status=CredentialStatus.ACTIVE)
                      .exclude(kind__in=BIOMETRIC_KINDS).values_list("kind", flat=True)))


@transaction.atomic
def credential_issue(*, actor: Any, person: Person, kind: str, house: House | None = None, value: str = "",
                     template_ref: str = "", valid_from: dt.datetime | None = None, valid_until: dt.datetime | None = None) -> Credential:
    """Issue a card (number), PIN (6–8 digits), face/fingerprint (template reference, with the person's
    separate consent), or QR entitlement. Residents get it for a current house; staff (no house) pass
    by role rules only."""
    path = _check_person(actor, P.CREDENTIAL_ISSUE, person)
    if kind not in CredentialKind.values:
        raise Invalid("access.credential_kind", Msg("凭证类型无效", "Unknown credential kind"), detail={"allowed": list(CredentialKind.values)})
    if house is not None:
        house = _current_house(person, house)
        check_perm_at(actor, P.CREDENTIAL_ISSUE, house.region.path, code="access.house_not_found")
    if kind in BIOMETRIC_KINDS and not has_biometric_consent(person, kind):
        raise Invalid("access.consent_required", Msg("录入生物特征须取得本人单独同意", "Biometric credentials need the person's separate consent"),
                      detail={"purpose": str(CONSENT_FOR[kind])})
    index = tail = tag = ref = ""
    raw = pii.normalise(value or "")
    if kind == CredentialKind.CARD:
        if not CARD_RE.match(raw):
            raise Invalid("access.card_number", Msg("卡号须为4–32位数字或十六进制字符", "Card numbers are 4–32 hex digits"))
        index, tail, tag = tokens.secret_index(kind, raw), raw[-4:], tokens.offline_tag(kind, raw)
    elif kind == CredentialKind.PIN:
        if not PIN_RE.match(raw):
            raise Invalid("access.pin_format", Msg("密码须为6–8位数字", "A PIN is 6–8 digits"))
        index, tag = tokens.secret_index(kind, raw), tokens.offline_tag(kind, raw)
    elif kind in BIOMETRIC_KINDS:
        ref = (template_ref or "").strip()
        if not ref or len(ref) > 128:
            raise Invalid("access.template_ref", Msg("须提供识别引擎中的模板引用编号", "A template reference is required"))
        index, tag = tokens.secret_index(kind, ref), tokens.offline_tag(kind, ref)
    if kind == CredentialKind.QR and house is None:
        raise Invalid("access.qr_needs_house", Msg("二维码凭证须关联房屋", "QR credentials belong to a house"))
    taken = Conflict("access.credential_taken", Msg("该卡号/密码/模板已在使用", "This card, PIN or template is already in use"))
    if index and Credential.objects.filter(kind=kind, secret_index=index).exclude(status=CredentialStatus.REVOKED).exists():
        raise taken
    c = Credential(person=person, house=house, region=house.region if house else person.region, kind=kind, secret_index=index,
                   secret_tail=tail, offline_tag=tag, template_ref=ref, valid_from=valid_from or timezone.now(),
                   valid_until=valid_until, issued_by=_actor_id(actor))
    _clean(c, exclude=["issued_by", "person", "house", "region"])
    try:
        with transaction.atomic():
            c.save()
    except IntegrityError as exc:
        raise taken from exc
    record(actor=actor, action="access.credential_issue", obj=c, after=snapshot(c, fields=CRED_AUDIT), region_path=path)
    changed("credential", c.pk)
    return c


CRED_AUDIT = ["person", "house", "kind", "secret_tail", "template_ref", "status", "valid_from", "valid_until", "status_reason"]


def _set_status(actor: Any, credential: Credential, to: str, reason: str, allowed_from: tuple[str, ...], action: str) -> Credential:
    c = Credential.objects.select_for_update().select_related("person__region", "region").get(pk=credential.pk)
    if not (to == CredentialStatus.SUSPENDED and _is_self(actor, c.person)):
        check_perm_at(actor, P.MANAGE, c.region.path)
    if c.status not in allowed_from:
        raise Conflict("access.credential_state", Msg("凭证当前状态不允许此操作", "Not allowed in the credential's current state"),
                       detail={"status": c.status})
    before = snapshot(c, fields=CRED_AUDIT)
    c.status, c.status_reason = to, (reason or "").strip()[:200]
    c.save(update_fields=["status", "status_reason", "updated_at"])
    record(actor=actor, action=action, obj=c, before=before, after=snapshot(c, fields=CRED_AUDIT), region_path=c.region.path)
    changed("credential", c.pk)
    return c


@transaction.atomic
def credential_suspend(*, actor: Any, credential: Credential, reason: str = "") -> Credential:
    """挂失/暂停: staff with access.manage, or the holder (lost card)."""
    return _set_status(actor, credential, CredentialStatus.SUSPENDED, reason, (CredentialStatus.ACTIVE,), "access.credential_suspend")


@transaction.atomic
def credential_reactivate(*, actor: Any, credential: Credential, reason: str = "") -> Credential:
    return _set_status(actor, credential, CredentialStatus.ACTIVE, reason, (CredentialStatus.SUSPENDED,), "access.credential_reactivate")


@transaction.atomic
def credential_revoke(*, actor: Any, credential: Credential, reason: str = "") -> Credential:
    """Final: the number/PIN/template may then be issued again."""
    return _set_status(actor, credential, CredentialStatus.REVOKED, reason, (CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED),
                       "access.credential_revoke")


@transaction.atomic
def credential_set_expiry(*, actor: Any, credential: Credential, valid_until: dt.datetime | None) -> Credential:
    """Set or clear the end of validity (e.g. a tenant's card until the lease ends); takes effect at the next decision."""
    c = Credential.objects.select_for_update().select_related("region").get(pk=credential.pk)
    check_perm_at(actor, P.MANAGE, c.region.path)
    if c.status == CredentialStatus.REVOKED:
        raise Conflict("access.credential_state", Msg("凭证已注销", "The credential is revoked"), detail={"status": c.status})
    if valid_until is not None and valid_until <= c.valid_from:
        raise Invalid("access.credential_expiry", Msg("失效时间须晚于生效时间", "The end must be after the start"))
    before = snapshot(c, fields=CRED_AUDIT)
    c.valid_until = valid_until
    c.save(update_fields=["valid_until", "updated_at"])
    record(actor=actor, action="access.credential_expiry", obj=c, before=before, after=snapshot(c, fields=CRED_AUDIT), region_path=c.region.path)
    changed("credential", c.pk)
    return c


@transaction.atomic
def qr_issue(*, actor: Any, person: Person, house: House | None = None, ttl: int = tokens.QR_DEFAULT_TTL) -> tuple[str, dt.datetime, Credential]:
    """A short-lived signed QR token for a resident (the resident themself, or staff issuing credentials).

    Every current resident can always get one: the QR entitlement row is created on first use."""
    if not _is_self(actor, person):
        _check_person(actor, P.CREDENTIAL_ISSUE, person)
    if not 10 <= ttl <= 600:
        raise Invalid("access.qr_ttl", Msg("有效期须在10–600秒之间", "TTL must be 10–600 s"))
    house = _current_house(person, house)
    cred = Credential.objects.select_for_update().filter(person=person, house=house, kind=CredentialKind.QR).exclude(
        status=CredentialStatus.REVOKED).first()
    if cred is None:
        cred = Credential.objects.create(person=person, house=house, region=house.region, kind=CredentialKind.QR,
                                         valid_from=timezone.now(), issued_by=_actor_id(actor))
        record(actor=actor, action="access.credential_issue", obj=cred, after=snapshot(cred, fields=CRED_AUDIT), region_path=house.region.path)
        changed("credential", cred.pk)
    elif cred.status != CredentialStatus.ACTIVE:
        raise Conflict("access.credential_suspended", Msg("二维码通行已被暂停", "QR access is suspended"))
    expires = timezone.now() + dt.timedelta(seconds=ttl)
    token = tokens.qr_sign(type="r", id=cred.pk, person_id=person.pk, group_ids=None, expires=int(expires.timestamp()))
    return token, expires, cred


# ---- visitors and the watch list (A4) ---------------------------------------------------------------


def _house_groups(house: House) -> list[int]:
    b = house.building
    qs = GateGroup.objects.filter(is_active=True, estate_id=b.estate_id)
    return sorted(gid for gid, level, bid, uid in qs.values_list("id", "level", "building_id", "unit_id")
                  if level == GroupLevel.ESTATE or (level == GroupLevel.BUILDING and bid == b.pk)
                  or (level == GroupLevel.UNIT and uid == house.unit_id))


def _watch_hit(region: Region, *, id_index: str = "", plate: str = "") -> WatchListEntry | None:
    from django.db.models import Q

    cond = Q(pk__in=[])
    if id_index:
        cond |= Q(kind=WatchKind.PERSON, id_number_index=id_index)
    if plate:
        cond |= Q(kind=WatchKind.PLATE, plate=plate)
    hits = [w for w in WatchListEntry.objects.filter(cond, is_active=True).select_related("region") if region.path.startswith(w.region.path)]
    # A deny entry wins over an alarm-only one.
    hits.sort(key=lambda w: (w.policy != WatchPolicy.DENY, w.pk))
    return hits[0] if hits else None


def _on_hit(actor: Any, invite: VisitorInvite, hit: WatchListEntry, gate: Gate | None) -> None:
    what = "证件号" if hit.kind == WatchKind.PERSON else "车牌"
    alarm = AccessAlarm.objects.create(region=invite.region, gate=gate, visitor_invite=invite, watch_entry=hit, policy=hit.policy,
                                       message=f"访客{what}命中关注名单（{hit.get_policy_display()}）")
    record(actor=actor, action="access.watch_hit", obj=alarm, region_path=invite.region.path,
           detail={"watch_entry": hit.pk, "policy": hit.policy, "invite": invite.pk, "gate": gate.pk if gate else None})
    live.publish("access", {"kind": "watch_hit", "id": alarm.pk, "invite": invite.pk, "gate": gate.pk if gate else None,
                            "policy": hit.policy, "region": invite.region.path})


def _window(valid_from: dt.datetime, valid_until: dt.datetime) -> None:
    if valid_until <= valid_from or valid_until - valid_from > VISIT_MAX:
        raise Invalid("access.visit_window", Msg("访问时段无效（最长7天）", "Invalid visit window (at most 7 days)"))
    if valid_until <= timezone.now():
        raise Invalid("access.visit_past", Msg("访问时段已过", "The visit window is in the past"))


def _finish_invite(actor: Any, inv: VisitorInvite, id_index: str, plate: str, gate: Gate | None, confirmed: bool) -> VisitorInvite:
    hit = _watch_hit(inv.region, id_index=id_index, plate=plate)
    if hit is not None:
        inv.watch_hit = hit
        if hit.policy == WatchPolicy.DENY:
            inv.status = InviteStatus.DENIED
    if inv.status != InviteStatus.DENIED:
        inv.status = InviteStatus.CONFIRMED if confirmed else InviteStatus.PENDING
    if inv.status == InviteStatus.CONFIRMED:
        inv.group_ids = _house_groups(inv.house)
    inv.save()
    record(actor=actor, action="access.visitor_" + ("register" if gate else "invite"), obj=inv, after=snapshot(inv, fields=INVITE_AUDIT),
           region_path=inv.region.path)
    if hit is not None:
        _on_hit(actor, inv, hit, gate)
    changed("visitor", inv.pk)
    _visitor_live(inv)
    return inv


def _visitor_live(inv: VisitorInvite) -> None:
    """The visitor desk's list of today's visitors moved (a new visit or a new status)."""
    live.publish("access", {"kind": "visitor", "id": inv.pk, "status": inv.status, "region": inv.region.path})


INVITE_AUDIT = ["host_person", "house", "visitor_name", "visitor_phone_tail", "visitor_id_tail", "plate", "valid_from", "valid_until",
                "status", "origin", "gate", "group_ids", "watch_hit"]


@transaction.atomic
def visitor_invite(*, actor: Any, house: House, visitor_name: str, valid_from: dt.datetime, valid_until: dt.datetime,
                   visitor_phone: str = "", plate: str = "") -> VisitorInvite:
    """A resident invites a visitor to their house; the invite is confirmed by its host at once
    (unless the watch list denies it) and a pass can be fetched (``visitor_pass``)."""
    host = getattr(actor, "person", None) if getattr(actor, "person_id", None) else None
    if host is None or not getattr(actor, "is_active", False):
        raise Forbidden("access.not_a_resident", Msg("只有住户可以邀请访客", "Only residents can invite visitors"))
    house = _current_house(host, house)
    _window(valid_from, valid_until)
    name = (visitor_name or "").strip()
    if not name:
        raise Invalid("access.visitor_name", Msg("请填写访客姓名", "Visitor name is required"))
    phone = normalise_phone(visitor_phone) if visitor_phone else ""
    p = _check_plate(plate)
    inv = VisitorInvite(host_person=host, host_account=actor, house=house, region=house.region, visitor_name=name[:60],
                        visitor_phone=phone, visitor_phone_tail=phone[-4:], plate=p, valid_from=valid_from, valid_until=valid_until,
                        origin="invite")
    return _finish_invite(actor, inv, "", p, None, confirmed=True)


@transaction.atomic
def visitor_register_at_gate(*, actor: Any, gate: Gate, house: House, visitor_name: str, id_number: str, id_type: str = "resident_id",
                             visitor_phone: str = "", plate: str = "", hours: int = 4) -> VisitorInvite:
    """The visitor desk registers a walk-in with real-name ID; the host must confirm (``host_confirm``)."""
    check_perm_at(actor, P.VISITOR_DESK, gate.region.path, code="access.gate_not_found")
    check_perm_at(actor, P.VISITOR_DESK, house.region.path, code="access.house_not_found")
    hosts = list(Residency.objects.filter(house=house, move_out__isnull=True).select_related("person").order_by("id"))
    if not hosts:
        raise Invalid("access.house_empty", Msg("该房屋无现住人员", "Nobody lives in this house"))
    idn = normalise_id_number(id_type, id_number)
    now = timezone.now()
    if not 1 <= hours <= 24:
        raise Invalid("access.visit_hours", Msg("访问时长须在1–24小时之间", "Visit length is 1–24 hours"))
    phone = normalise_phone(visitor_phone) if visitor_phone else ""
    p = _check_plate(plate)
    inv = VisitorInvite(host_person=hosts[0].person, house=house, region=house.region, visitor_name=(visitor_name or "").strip()[:60],
                        visitor_phone=phone, visitor_phone_tail=phone[-4:], visitor_id_index=pii.blind_index(idn, purpose="id_number"),
                        visitor_id_tail=idn[-4:], plate=p, valid_from=now, valid_until=now + dt.timedelta(hours=hours), origin="gate",
                        gate=gate)
    if not inv.visitor_name:
        raise Invalid("access.visitor_name", Msg("请填写访客姓名", "Visitor name is required"))
    return _finish_invite(actor, inv, inv.visitor_id_index, p, gate, confirmed=False)


@transaction.atomic
def host_confirm(*, actor: Any, invite: VisitorInvite, accept: bool = True) -> VisitorInvite:
    """The host (any current resident of the house) accepts or refuses a pending visitor."""
    inv = VisitorInvite.objects.select_for_update().select_related("house__building", "region").get(pk=invite.pk)
    host_ok = getattr(actor, "person_id", None) and Residency.objects.filter(
        house_id=inv.house_id, person_id=actor.person_id, move_out__isnull=True).exists()
    if not host_ok and not covers(actor, P.VISITOR_DESK, inv.region.path):
        raise NotFound("access.invite_not_found")
    if inv.status != InviteStatus.PENDING:
        raise Conflict("access.invite_state", Msg("该访客记录不是待确认状态", "This visit is not pending"), detail={"status": inv.status})
    before = snapshot(inv, fields=INVITE_AUDIT)
    inv.status = InviteStatus.CONFIRMED if accept else InviteStatus.DENIED
    if accept:
        inv.group_ids = _house_groups(inv.house)
    inv.save(update_fields=["status", "group_ids", "updated_at"])
    record(actor=actor, action="access.visitor_confirm" if accept else "access.visitor_refuse", obj=inv, before=before,
           after=snapshot(inv, fields=INVITE_AUDIT), region_path=inv.region.path)
    changed("visitor", inv.pk)
    _visitor_live(inv)
    return inv


@transaction.atomic
def visitor_cancel(*, actor: Any, invite: VisitorInvite) -> VisitorInvite:
    """The inviting resident (or the visitor desk) cancels a visit that has not happened yet; its pass stops working at once."""
    inv = VisitorInvite.objects.select_for_update().select_related("region").get(pk=invite.pk)
    own = getattr(actor, "pk", None) is not None and inv.host_account_id == actor.pk
    if not own and not covers(actor, P.VISITOR_DESK, inv.region.path):
        raise NotFound("access.invite_not_found")
    if inv.status not in (InviteStatus.PENDING, InviteStatus.CONFIRMED):
        raise Conflict("access.invite_state", Msg("该访客记录不能取消", "This visit cannot be cancelled"), detail={"status": inv.status})
    before = snapshot(inv, fields=INVITE_AUDIT)
    inv.status = InviteStatus.CANCELLED
    inv.save(update_fields=["status", "updated_at"])
    record(actor=actor, action="access.visitor_cancel", obj=inv, before=before, after=snapshot(inv, fields=INVITE_AUDIT),
           region_path=inv.region.path)
    changed("visitor", inv.pk)
    _visitor_live(inv)
    return inv


ANONYMISED_NAME = "（已匿名）"


def visitor_retention_days() -> tuple[int, int]:
    """(ordinary visits, visits that hit the watch list) in days — settings LINLI_ACCESS_VISITOR_RETENTION_DAYS /
    LINLI_ACCESS_WATCH_HIT_RETENTION_DAYS."""
    from django.conf import settings

    return (int(getattr(settings, "LINLI_ACCESS_VISITOR_RETENTION_DAYS", 180)),
            int(getattr(settings, "LINLI_ACCESS_WATCH_HIT_RETENTION_DAYS", 730)))


def visitors_anonymise(*, now: dt.datetime | None = None, batch: int = 1000) -> int:
    """A4/H6: blank the real-name data (name, phone, ID index and tail, plate) of visits that ended more than
    the retention period ago; visits that hit the watch list are kept for the longer watch-hit period.
    Idempotent (``anonymised_at`` marks done rows); each batch is one transaction with one audit row."""
    from django.db.models import Q

    now = now or timezone.now()
    days, hit_days = visitor_retention_days()
    due = (Q(watch_hit__isnull=True, valid_until__lt=now - dt.timedelta(days=days))
           | Q(watch_hit__isnull=False, valid_until__lt=now - dt.timedelta(days=hit_days)))
    total = 0
    while True:
        with transaction.atomic():
            ids = list(VisitorInvite.objects.select_for_update(skip_locked=True).filter(due, anonymised_at__isnull=True)
                       .order_by("id").values_list("id", flat=True)[:batch])
            if not ids:
                return total
            VisitorInvite.objects.filter(id__in=ids).update(
                visitor_name=ANONYMISED_NAME, visitor_phone="", visitor_phone_tail="", visitor_id_index="", visitor_id_tail="",
                plate="", anonymised_at=now, updated_at=now)
            record(actor=None, action="access.visitor_anonymise", object_type="access.visitorinvite", object_id=ids[0],
                   detail={"count": len(ids), "first_id": ids[0], "last_id": ids[-1], "retention_days": days,
                           "watch_hit_retention_days": hit_days})
            total += len(ids)


def visitor_pass(*, invite: VisitorInvite) -> tuple[str, dt.datetime]:
    """The time-limited QR pass of a confirmed visit (valid until the end of the visit window)."""
    if invite.status != InviteStatus.CONFIRMED or invite.valid_until <= timezone.now():
        raise Conflict("access.invite_not_confirmed", Msg("访客未确认或已过期", "The visit is not confirmed or has expired"))
    token = tokens.qr_sign(type="v", id=invite.pk, person_id=None, group_ids=list(invite.group_ids), expires=int(invite.valid_until.timestamp()))
    return token, invite.valid_until


@transaction.atomic
def watch_add(*, actor: Any, region: Region, kind: str, reason: str, policy: str = WatchPolicy.DENY, id_number: str = "",
              plate: str = "", source: str = "") -> WatchListEntry:
    check_perm_at(actor, P.WATCH_LIST, region.path, code="access.region_not_found")
    if kind not in WatchKind.values or policy not in WatchPolicy.values:
        raise Invalid("access.watch_kind", Msg("类型或策略无效", "Unknown kind or policy"))
    w = WatchListEntry(region=region, kind=kind, reason=(reason or "").strip()[:200], policy=policy, source=source[:60],
                       created_by=_actor_id(actor))
    if kind == WatchKind.PERSON:
        idn = pii.normalise(id_number or "")
        if len(idn) < 6:
            raise Invalid("access.id_number", Msg("证件号码无效", "Invalid ID number"))
        w.id_number_index, w.id_number_tail = pii.blind_index(idn, purpose="id_number"), idn[-4:]
    else:
        w.plate = _check_plate(plate)
        if not w.plate:
            raise Invalid("access.plate_invalid", Msg("车牌号格式不正确", "Invalid licence plate"))
    if not w.reason:
        raise Invalid("access.watch_reason", Msg("请填写原因", "A reason is required"))
    _clean(w, exclude=["created_by"])
    w.save()
    record(actor=actor, action="access.watch_add", obj=w, after=snapshot(w, fields=WATCH_AUDIT), region_path=region.path)
    return w


WATCH_AUDIT = ["region", "kind", "id_number_tail", "plate", "reason", "policy", "source", "is_active"]


@transaction.atomic
def watch_remove(*, actor: Any, entry: WatchListEntry) -> WatchListEntry:
    check_perm_at(actor, P.WATCH_LIST, entry.region.path)
    before = snapshot(entry, fields=WATCH_AUDIT)
    entry.is_active = False
    entry.save(update_fields=["is_active", "updated_at"])
    record(actor=actor, action="access.watch_remove", obj=entry, before=before, after=snapshot(entry, fields=WATCH_AUDIT),
           region_path=entry.region.path)
    return entry


@transaction.atomic
def alarm_acknowledge(*, actor: Any, alarm: AccessAlarm) -> AccessAlarm:
    a = AccessAlarm.objects.select_for_update().select_related("region").get(pk=alarm.pk)
    check_perm_at(actor, P.WATCH_LIST, a.region.path)
    if a.acknowledged_at is not None:
        raise Conflict("access.alarm_acknowledged", Msg("告警已确认", "Already acknowledged"))
    a.acknowledged_at, a.acknowledged_by = timezone.now(), actor
    a.save(update_fields=["acknowledged_at", "acknowledged_by", "updated_at"])
    record(actor=actor, action="access.alarm_acknowledge", obj=a, region_path=a.region.path)
    live.publish("access", {"kind": "alarm_acknowledged", "id": a.pk, "region": a.region.path})
    return a


# ---- the device side (A3, A5) ------------------------------------------------------------------------


def decide_and_log(*, gate: decision.GateRow, credential_kind: str, credential_value: str, at: dt.datetime | None = None,
                   event_uid: str = "") -> tuple[decision.Decision, str]:
    """Decide at ``gate`` and store the event (one INSERT; a repeated ``event_uid`` is stored once). A denied
    entry or a visitor's arrival is published live (an in-memory no-op when no live backend is configured)."""
    at = at or timezone.now()
    d = decision.decide(gate_code=gate.code, credential_kind=credential_kind, credential_value=credential_value, at=at)
    uid = (event_uid or uuid.uuid4().hex)[:64]
    AccessEvent.objects.bulk_create([AccessEvent(
        event_uid=uid, gate_id=gate.id, region_id=gate.region_id, credential_kind=credential_kind[:12], credential_id=d.credential_id,
        person_id=d.person_id, visitor_invite_id=d.invite_id, result=Result.ALLOW if d.allowed else Result.DENY, reason=d.reason[:32],
        at=at, source=Source.ONLINE)], ignore_conflicts=True)
    if not d.allowed:
        live.publish("access", {"kind": "denied", "gate": gate.id, "region": gate.path})
    elif d.invite_id is not None:
        live.publish("access", {"kind": "visitor_arrived", "gate": gate.id, "invite": d.invite_id, "region": gate.path})
    return d, uid


def events_upload(*, gate: decision.GateRow, events: list[dict[str, Any]]) -> dict[str, int]:
    """Merge events a controller recorded offline; duplicates (same event_uid) are ignored (ON CONFLICT DO NOTHING)."""
    if len(events) > MAX_UPLOAD:
        raise Invalid("access.upload_too_large", Msg("单次最多上传{n}条", "At most {n} events per upload"), n=MAX_UPLOAD)
    rows, seen = [], set()
    for e in events:
        uid = str(e["event_uid"])[:64]
        if uid in seen:
            continue
        seen.add(uid)
        rows.append(AccessEvent(
            event_uid=uid, gate_id=gate.id, region_id=gate.region_id, credential_kind=str(e["credential_kind"])[:12],
            credential_id=e.get("credential_id"), person_id=e.get("person_id"), result=e["result"], reason=str(e.get("reason") or "offline")[:32],
            at=e["at"], source=Source.OFFLINE))
    with transaction.atomic():
        existing = set(AccessEvent.objects.filter(event_uid__in=list(seen)).values_list("event_uid", flat=True))
        AccessEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        stored = len(seen - existing)
        if stored:
            live.publish("access", {"kind": "uploaded", "gate": gate.id, "region": gate.path})
    return {"received": len(events), "stored": stored}


def allowlist(*, gate: decision.GateRow, valid_hours: int = 24) -> dict[str, Any]:
    """The signed, versioned offline list for one gate: who may pass there, with their windows."""
    from .selectors import allowlist_entries, allowlist_qr_entries

    index = decision.get_index()
    group = index.groups[gate.group_id]
    now = timezone.now()
    doc = {
        "gate": gate.code,
        "version": index.version,
        "generated_at": now.isoformat(),
        "valid_until": (now + dt.timedelta(hours=valid_hours)).isoformat(),
        "timezone": "Asia/Shanghai",
        "resident_windows": [list(w) for w in group.resident_windows] if group.resident_windows is not None else None,
        "holidays": sorted(d.isoformat() for d in group.holidays),
        "entries": allowlist_entries(index=index, group=group, at=now),
        # A3 offline QR: the controller verifies a resident QR with this public key (it cannot mint one),
        # then matches the token's credential id and person id against ``qr_entries``; a visitor pass
        # (type "v") against ``visitor_passes``.
        "qr": {"algorithm": "Ed25519", "key_id": tokens.qr_key_id(), "public_key": tokens.qr_public_key_b64()},
        "qr_entries": allowlist_qr_entries(index=index, group=group, at=now),
        "visitor_passes": [{"invite_id": i.id, "valid_from": dt.datetime.fromtimestamp(i.valid_from, dt.UTC).isoformat(),
                            "valid_until": dt.datetime.fromtimestamp(i.valid_until, dt.UTC).isoformat()}
                           for i in sorted(index.invites.values(), key=lambda i: i.id)
                           if i.status == InviteStatus.CONFIRMED and group.id in i.group_ids and i.valid_until > now.timestamp()],
    }
    Gate.objects.filter(pk=gate.id).update(allowlist_version=index.version, allowlist_fetched_at=now)
    return {"document": doc, "signature": tokens.sign_document(doc), "algorithm": "Ed25519", "public_key": tokens.public_key_b64()}
