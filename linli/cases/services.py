"""Writes of the case loop (C1–C4, L3). Every service is keyword-only and atomic, checks first
(``check_*``), locks the case row, writes one timeline event and one audit entry.

State machine (C3)::

    reported → accepted → dispatched → in_progress → resolved → verified → closed
    return:   accepted→reported, dispatched/in_progress→accepted (clears the department), resolved→in_progress
    reassign (dispatcher) / transfer (handling department): dispatched|in_progress → dispatched
    co_handle, comment, escalate: no state change;  merge: reported|accepted → merged
    reopen (reporter, within the window): closed → dispatched (same department) or accepted
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from linli.audit.services import record, snapshot
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.pii import mask_phone
from linli.core.validators import normalise_phone
from linli.orgs.models import Account, AccountKind, Organisation
from linli.places.models import House, Region

from . import calendar, config, routing
from .models import (
    OPEN_STATUSES,
    CalendarYear,
    Case,
    CaseCoHandler,
    CaseCounter,
    CaseEvent,
    CaseRating,
    Category,
    Channel,
    EventKind,
    HolidayDay,
    Notification,
    NotificationKind,
    Priority,
    RoutingRule,
    Status,
)
from .notify import notify
from .perms import CasePerm

S = Status

# ---- the transition table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    name: str
    moves: dict[str, str | None]  # from status → to status (None: unchanged)
    perm: str | dict[str, str]  # one permission, or one per from-status


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("accept", {S.REPORTED: S.ACCEPTED}, CasePerm.ACCEPT),
        Action("dispatch", {S.ACCEPTED: S.DISPATCHED}, CasePerm.DISPATCH),
        Action("start", {S.DISPATCHED: S.IN_PROGRESS}, CasePerm.HANDLE),
        Action("resolve", {S.IN_PROGRESS: S.RESOLVED}, CasePerm.HANDLE),
        Action("verify", {S.RESOLVED: S.VERIFIED}, CasePerm.VERIFY),
        Action("close", {S.VERIFIED: S.CLOSED}, CasePerm.CLOSE),
        Action(
            "return",
            {S.ACCEPTED: S.REPORTED, S.DISPATCHED: S.ACCEPTED, S.IN_PROGRESS: S.ACCEPTED, S.RESOLVED: S.IN_PROGRESS},
            {S.ACCEPTED: CasePerm.ACCEPT, S.DISPATCHED: CasePerm.HANDLE, S.IN_PROGRESS: CasePerm.HANDLE, S.RESOLVED: CasePerm.VERIFY},
        ),
        Action("reassign", {S.DISPATCHED: S.DISPATCHED, S.IN_PROGRESS: S.DISPATCHED}, CasePerm.DISPATCH),
        Action("transfer", {S.DISPATCHED: S.DISPATCHED, S.IN_PROGRESS: S.DISPATCHED}, CasePerm.HANDLE),
        Action("co_handle", {s: None for s in (S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS)}, CasePerm.DISPATCH),
        Action("comment", {s: None for s in Status if s != S.MERGED}, CasePerm.VIEW),
        Action("escalate", {s: None for s in OPEN_STATUSES}, CasePerm.SUPERVISE),
        Action("merge", {S.REPORTED: S.MERGED, S.ACCEPTED: S.MERGED}, CasePerm.ACCEPT),
        Action("reopen", {S.CLOSED: S.DISPATCHED}, CasePerm.CLOSE),
        Action("rate", {S.CLOSED: None}, CasePerm.CLOSE),
    )
}
# Actions the reporter may take on their own case without any staff permission.
REPORTER_ACTIONS = {"comment", "reopen", "rate"}


def allowed_actions(status: str) -> list[str]:
    return [name for name, a in ACTIONS.items() if status in a.moves]


def check_transition(case: Case, action: str) -> str:
    """The status ``action`` leads to from ``case.status``; 409 case.invalid_transition otherwise."""
    a = ACTIONS[action]
    if case.status not in a.moves:
        target = next(iter(a.moves.values()), None) or ""
        raise Conflict(
            "case.invalid_transition",
            Msg("工单当前状态“{state}”不能执行“{action}”", "A case in state '{state}' cannot '{action}'"),
            state=Status(case.status).label,
            action=action,
            detail={"from": case.status, "to": target, "action": action, "allowed": allowed_actions(case.status)},
        )
    return a.moves[case.status] or case.status


# ---- permission checks -------------------------------------------------------------------------------


def _paths(actor: Any, perm: str) -> list[str] | None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        return []
    return actor.scope_paths(perm)


def covers(actor: Any, perm: str, path: str) -> bool:
    paths = _paths(actor, perm)
    return paths is None or any(path.startswith(p) for p in paths)


def covers_any(actor: Any, perm: str) -> bool:
    paths = _paths(actor, perm)
    return paths is None or bool(paths)


def _cohandler_org_ids(case: Case) -> set[int]:
    return set(CaseCoHandler.objects.filter(case_id=case.pk).values_list("organisation_id", flat=True))


def is_reporter(actor: Any, case: Case) -> bool:
    return bool(actor is not None and case.reporter_account_id and case.reporter_account_id == getattr(actor, "pk", None))


def involved(actor: Any, case: Case, *, include_cohandlers: bool = True) -> bool:
    """The actor works for the responsible (or a co-handling) organisation, or is the assignee."""
    if case.assigned_account_id and case.assigned_account_id == actor.pk:
        return True
    org = getattr(actor, "organisation_id", None)
    if not org:
        return False
    return org == case.assigned_org_id or (include_cohandlers and org in _cohandler_org_ids(case))


def holds(actor: Any, perm: str, case: Case) -> bool:
    """``perm`` over the case's region, or ``perm`` held anywhere by someone involved in the case.
    Co-handling organisations only view and comment; the responsible one does the work."""
    if covers(actor, perm, case.region.path):
        return True
    return covers_any(actor, perm) and involved(actor, case, include_cohandlers=perm == CasePerm.VIEW)


def can_view(actor: Any, case: Case) -> bool:
    return is_reporter(actor, case) or holds(actor, CasePerm.VIEW, case)


def check_view(actor: Any, case: Case) -> None:
    if not can_view(actor, case):
        raise NotFound("case.not_found")


def _forbidden(perm: str) -> Forbidden:
    return Forbidden(
        "permission.denied",
        Msg("没有执行此操作的权限（{perm}）", "You do not have permission for this action ({perm})"),
        perm=str(perm),
        detail={"permission": str(perm)},
    )


def check_action(actor: Any, case: Case, action: str) -> str:
    """404 when the case is invisible to ``actor``; 409 for an illegal move; 403 without the
    permission. Returns the target status."""
    check_view(actor, case)
    target = check_transition(case, action)
    a = ACTIONS[action]
    perm = a.perm[case.status] if isinstance(a.perm, dict) else a.perm
    if action in REPORTER_ACTIONS and is_reporter(actor, case):
        return target
    if not holds(actor, perm, case):
        raise _forbidden(perm)
    return target


# ---- helpers --------------------------------------------------------------------------------------------

AUDIT_FIELDS = ["status", "priority", "assigned_org", "assigned_account", "escalation_level", "due_at", "merged_into", "category"]
MAX_PHOTOS = 9


def _lock(case: Case) -> Case:
    locked = Case.objects.select_for_update().filter(pk=case.pk).first()
    if locked is None:
        raise NotFound("case.not_found")
    return locked


def clean_photos(photos: Iterable[str]) -> list[str]:
    """Photo evidence is a list of stored-file references (paths or URLs) — at most nine."""
    out = []
    for p in photos or ():
        if not isinstance(p, str) or not p.strip() or len(p) > 300 or ".." in p or p.strip().lower().startswith("javascript:"):
            raise Invalid("case.photo_invalid", Msg("照片引用无效", "Invalid photo reference"), detail={"photo": str(p)[:60]})
        out.append(p.strip())
    if len(out) > MAX_PHOTOS:
        raise Invalid("case.too_many_photos", Msg("每次最多上传{n}张照片", "At most {n} photos per step"), n=MAX_PHOTOS)
    return out


def _need_note(note: str, action: str) -> str:
    note = (note or "").strip()
    if not note:
        raise Invalid("case.note_required", Msg("请填写说明", "A note is required for '{action}'"), action=action, detail={"action": action})
    return note


_FK_FIELDS = ["category", "region", "house", "reporter_person", "reporter_account", "intake_by", "assigned_org",
              "assigned_account", "routing_rule", "merged_into", "co_handlers"]


def _clean(case: Case) -> None:
    """Field validation without one query per foreign key; the database checks FKs and constraints."""
    case.clean_fields(exclude=_FK_FIELDS)


def _add_event(case: Case, kind: str, *, actor: Any, from_status: str, note: str = "", photos: Sequence[str] = (),
               organisation: Organisation | None = None, data: dict | None = None) -> CaseEvent:
    """Timeline row numbered ``case.event_seq`` (the caller has already advanced and saved it)."""
    return CaseEvent.objects.create(
        case=case, seq=case.event_seq, kind=kind, actor=actor if getattr(actor, "pk", None) else None,
        from_status=from_status, to_status=case.status, note=note, photos=list(photos), organisation=organisation, data=data or {},
    )


def _event(case: Case, kind: str, **kw: Any) -> CaseEvent:
    """A timeline row on a case whose other fields do not change (comment, rating, merge target)."""
    case.event_seq += 1
    Case.objects.filter(pk=case.pk).update(event_seq=case.event_seq)
    return _add_event(case, kind, **kw)


def _finish(case: Case, *, actor: Any, action: str, before: dict, from_status: str, kind: str, note: str = "",
            photos: Sequence[str] = (), organisation: Organisation | None = None, data: dict | None = None) -> Case:
    _clean(case)
    case.event_seq += 1
    case.save()
    _add_event(case, kind, actor=actor, from_status=from_status, note=note, photos=photos, organisation=organisation, data=data)
    record(actor=actor, action=f"case.{action}", obj=case, before=before, after=snapshot(case, AUDIT_FIELDS),
           detail={"number": case.number, **(data or {})}, region_path=case.region.path)
    return case


def _org_staff(org_id: int | None, limit: int = 100) -> list[int]:
    if not org_id:
        return []
    return list(
        Account.objects.filter(organisation_id=org_id, is_active=True, kind=AccountKind.STAFF).order_by("id").values_list("id", flat=True)[:limit]
    )


def _notify(case: Case, kind: str, message: str, recipients: Iterable[int | None], *, exclude: Any = None) -> None:
    skip = getattr(exclude, "pk", None)
    ids = sorted({r for r in recipients if r and r != skip})
    notify(rows=[Notification(recipient_id=r, case=case, kind=kind, message=message[:300]) for r in ids])


def _assignees(case: Case) -> list[int]:
    return [case.assigned_account_id, *_org_staff(case.assigned_org_id)]


def _organisation(org: Organisation | int | None, *, code: str = "case.org_invalid") -> Organisation:
    org_id = getattr(org, "pk", org)
    obj = Organisation.objects.filter(pk=org_id, is_active=True).first() if org_id else None
    if obj is None:
        raise Invalid(code, Msg("责任单位不存在或已停用", "The organisation does not exist or is inactive"))
    return obj


# ---- intake (C1) ----------------------------------------------------------------------------------------


def next_number(now: dt.datetime) -> str:
    """C + local date + 4-digit daily sequence (C202611230001): one ``UPDATE … RETURNING`` on the
    day's counter row (row-locked until commit), created on the day's first case."""
    day = timezone.localtime(now).date()
    sql = f"UPDATE {CaseCounter._meta.db_table} SET last = last + 1 WHERE day = %s RETURNING last"
    with connection.cursor() as cur:
        cur.execute(sql, [day])
        row = cur.fetchone()
        if row is None:
            try:
                with transaction.atomic():
                    CaseCounter.objects.create(day=day, last=1)
                    return f"C{day:%Y%m%d}0001"
            except IntegrityError:
                cur.execute(sql, [day])
                row = cur.fetchone()
    return f"C{day:%Y%m%d}{row[0]:04d}"


def _contact(raw: str) -> tuple[str, str]:
    raw = (raw or "").strip()
    if not raw:
        return "", ""
    if "@" in raw:
        name, _, domain = raw.partition("@")
        if not name or "." not in domain or len(raw) > 120:
            raise Invalid("case.contact_invalid", Msg("联系方式格式错误", "Contact is not a valid phone number or e-mail"))
        return raw, f"{name[:1]}***@{domain}"
    try:
        phone = normalise_phone(raw)
    except Invalid as exc:
        raise Invalid("case.contact_invalid", Msg("联系方式格式错误", "Contact is not a valid phone number or e-mail")) from exc
    return phone, mask_phone(phone.removeprefix("+86"))


def _locate(*, lat: float | None, lng: float | None, house: House | None, region: Region | None) -> Region:
    if house is not None:
        return house.region
    if lat is not None and lng is not None:
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise Invalid("case.location_invalid", Msg("经纬度超出范围", "Latitude/longitude out of range"))
        from linli.places.spatial import locate

        loc = locate(lat, lng)
        region_id = loc and (loc.grid_id or loc.community_id)
        if region_id:
            return Region.objects.defer("boundary").get(pk=region_id)  # the polygon is not needed to file a case
        if region is None:
            raise Invalid("case.location_outside", Msg("该位置不在任何网格或社区范围内", "The location is not inside any grid or community"),
                          detail={"lat": lat, "lng": lng})
    if (lat is None) != (lng is None):
        raise Invalid("case.location_invalid", Msg("经纬度须同时提供", "Give both latitude and longitude"))
    if region is not None:
        return region
    raise Invalid("case.location_required", Msg("请在地图上选点、选择房屋或指定网格", "Pick a point, a house or a grid"))


def check_report(actor: Any, *, channel: str, region: Region, house: House | None) -> None:
    """Residents report for themselves on the portal (and only for their own homes); every other
    channel needs case.intake over the location (404 outside)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise _forbidden(CasePerm.INTAKE)
    if channel == Channel.PORTAL:
        if house is not None and not covers(actor, CasePerm.INTAKE, house.region.path):
            from linli.people.models import Residency

            if not (actor.person_id and Residency.objects.filter(person_id=actor.person_id, house=house, move_out__isnull=True).exists()):
                raise NotFound("place.house_not_found")
        return
    if not covers_any(actor, CasePerm.INTAKE):
        raise _forbidden(CasePerm.INTAKE)
    if not covers(actor, CasePerm.INTAKE, region.path):
        raise NotFound("case.location_out_of_scope", Msg("该位置不在您的管辖范围内", "The location is outside your scope"))


@transaction.atomic
def case_report(
    *,
    actor: Any,
    channel: str,
    category: Category,
    title: str,
    description: str,
    lat: float | None = None,
    lng: float | None = None,
    house: House | None = None,
    address: str = "",
    photos: Sequence[str] = (),
    reporter_person: Any = None,
    reporter_contact: str = "",
    region: Region | None = None,
    external_ref: str = "",
    now: dt.datetime | None = None,
) -> Case:
    """File a case from any channel: locate → route → SLA clock → number → timeline → audit.

    ``external_ref`` (device alarm id, Open311 token, 12345 ticket number) makes intake idempotent:
    a second report with the same channel and reference returns the first case unchanged."""
    if channel not in Channel.values:
        raise Invalid("case.channel_invalid", Msg("未知的来源渠道", "Unknown channel"), detail={"channel": channel})
    external_ref = (external_ref or "").strip()[:64]
    if external_ref:
        existing = Case.objects.filter(channel=channel, external_ref=external_ref).select_related("region").first()
        if existing is not None:
            check_view(actor, existing)
            return existing
    _check_category(category)
    title = _check_title(title)
    grid = _locate(lat=lat, lng=lng, house=house, region=region)
    check_report(actor, channel=channel, region=grid, house=house)
    contact, masked = _contact(reporter_contact)
    is_resident = channel == Channel.PORTAL or getattr(actor, "kind", "") == AccountKind.RESIDENT
    return _file(
        actor=actor, channel=channel, category=category, title=title, description=description, lat=lat, lng=lng, grid=grid, house=house,
        address=address, photos=clean_photos(photos), external_ref=external_ref, now=now or timezone.now(),
        reporter_person=reporter_person or (actor.person if is_resident and actor.person_id else None),
        reporter_account=actor if is_resident else None, reporter_contact=contact, reporter_contact_masked=masked,
        intake_by=None if is_resident else actor,
    )


def _check_category(category: Category) -> None:
    if not category.is_active:
        raise Invalid("case.category_inactive", Msg("该事件分类已停用", "This category is not in use"))


def _check_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise Invalid("case.title_required", Msg("请填写标题", "A title is required"))
    return title


def _file(*, actor: Any, channel: str, category: Category, title: str, description: str, lat: float | None, lng: float | None,
          grid: Region, house: House | None, address: str, photos: list[str], external_ref: str, now: dt.datetime,
          data: dict | None = None, **reporter: Any) -> Case:
    """Route → SLA clock → number → insert → timeline → audit → notify (checks done by the caller)."""
    with config.pinned():  # routing table and calendar from one in-process snapshot
        r = routing.route(region=grid, category=category)
        warn_at, due_at, esc2 = calendar.sla_instants(now, r.time_limit_hours, working=r.working_hours)
        provisional = calendar.provisional_years(now, esc2) if r.working_hours else []
    case = Case(
        channel=channel, category=category, title=title[:120], description=description or "", lat=lat, lng=lng,
        address=(address or (house.address if house else ""))[:200], region=grid, house=house, photos=photos, external_ref=external_ref,
        status=S.REPORTED, priority=r.priority, assigned_org=r.organisation, assigned_account=routing.grid_worker_for(grid),
        routing_rule=r.rule, time_limit_hours=r.time_limit_hours, working_hours=r.working_hours, sla_started_at=now,
        warn_at=warn_at, due_at=due_at, escalate2_at=esc2, **reporter,
    )
    case.number = next_number(now)
    _clean(case)
    case.event_seq = 1
    case.save()
    info: dict[str, Any] = {"channel": channel, "rule": r.rule.pk if r.rule else None, "assigned_org": case.assigned_org_id, **(data or {})}
    if provisional:
        info["calendar_provisional"] = provisional  # deadline counted without the (unpublished) 调休 days of these years
    _add_event(case, EventKind.CREATED, actor=actor, from_status="", photos=photos, data=info)
    record(actor=actor, action="case.report", obj=case, after=snapshot(case, AUDIT_FIELDS + ["channel", "number"]),
           detail={"number": case.number, "channel": channel, **({"calendar_provisional": provisional} if provisional else {})},
           region_path=grid.path)
    _notify(case, NotificationKind.ASSIGNED, f"新事件 {case.number}：{case.title}", [case.assigned_account_id], exclude=actor)
    return case


ALARM_FALLBACK_CATEGORY = "iot-alarm"


def alarm_category(*, device_category: str, rule_code: str) -> Category:
    """The case category of an alarm (``AlarmCategoryRule`` data: rule-specific row, then the device
    category's row, then the urgent ``iot-alarm`` category)."""
    from .config import snapshot

    mapping = snapshot().alarm_categories
    category_id = mapping.get((device_category, rule_code)) or mapping.get((device_category, ""))
    category = Category.objects.filter(pk=category_id, is_active=True).first() if category_id else None
    category = category or Category.objects.filter(code=ALARM_FALLBACK_CATEGORY, is_active=True).first()
    if category is None:
        raise Invalid("case.alarm_category_missing", Msg("未配置设备告警对应的事件分类", "No case category is configured for device alarms"),
                      detail={"device_category": device_category, "rule": rule_code})
    return category


@transaction.atomic
def case_from_alarm(*, alarm_id: int) -> Case:
    """File (once) the case of an IoT alarm whose rule says a person must act (C1, channel ``iot``).

    A service other apps call: idempotent — the alarm's case is returned when it exists, and two
    concurrent calls cannot create two cases (``AlarmCase`` is keyed by the alarm and
    ``Case(channel, external_ref)`` is unique). The category comes from ``AlarmCategoryRule``, the
    location from the device (point, house, grid); the routing table and SLA apply as for any case."""
    from linli.iot.models import Alarm

    from .models import AlarmCase

    link = AlarmCase.objects.filter(alarm_id=alarm_id).select_related("case").first()
    if link is not None:
        return link.case
    alarm = (Alarm.objects.filter(pk=alarm_id).select_related("device", "device__device_type", "device__house__region", "rule", "region")
             .first())
    if alarm is None:
        raise NotFound("alarm.not_found")
    device, rule = alarm.device, alarm.rule
    ref = f"alarm:{alarm.pk}"
    existing = Case.objects.filter(channel=Channel.IOT, external_ref=ref).first()
    if existing is None:
        category = alarm_category(device_category=device.device_type.category, rule_code=rule.code)
        house = device.house
        lat, lng = (device.lat, device.lng) if device.lat is not None and device.lng is not None else (None, None)
        grid = house.region if house is not None else alarm.region
        where = device.location_note or (house.address if house else "")
        description = "\n".join(x for x in [
            f"设备告警：{alarm.message}", f"设备：{device.name or device.serial}（{device.device_type.name}，编号 {device.serial}）",
            f"位置：{where}" if where else "", f"发生时间：{timezone.localtime(alarm.started_at):%Y-%m-%d %H:%M:%S}",
            f"级别：{alarm.get_severity_display()}",
        ] if x)
        try:
            with transaction.atomic():
                existing = _file(
                    actor=None, channel=Channel.IOT, category=category, title=f"{device.device_type.name}告警：{rule.name}"[:120],
                    description=description, lat=lat, lng=lng, grid=grid, house=house, address=where, photos=[], external_ref=ref,
                    now=timezone.now(), data={"alarm": alarm.pk, "device": device.pk, "alarm_rule": rule.code},
                )
        except IntegrityError:  # a concurrent call filed it first
            existing = Case.objects.get(channel=Channel.IOT, external_ref=ref)
    AlarmCase.objects.get_or_create(alarm_id=alarm.pk, defaults={"case": existing})
    return existing


@transaction.atomic
def case_note_alarm_cleared(*, alarm_id: int) -> CaseEvent | None:
    """When the alarm behind a case clears before anyone acted (the case is still ``reported``),
    say so on the case's timeline and tell the assignees — once (``AlarmCase.clear_handled_at``).
    Returns the comment, or None (not cleared, already handled, or someone already acted)."""
    from linli.iot.models import AlarmStatus

    from .models import AlarmCase

    link = AlarmCase.objects.select_for_update().filter(alarm_id=alarm_id, clear_handled_at__isnull=True).select_related("alarm").first()
    if link is None or link.alarm.status != AlarmStatus.CLEARED:
        return None
    AlarmCase.objects.filter(pk=link.pk).update(clear_handled_at=timezone.now())
    case = _lock(link.case)
    if case.status != S.REPORTED:
        return None
    alarm = link.alarm
    how = "人工清除" if alarm.cleared_by_id else "设备读数已恢复正常，自动清除"
    note = f"设备告警已于 {timezone.localtime(alarm.cleared_at):%Y-%m-%d %H:%M:%S} 解除（{how}）。请核实现场后受理或退回。"
    event = _event(case, EventKind.COMMENTED, actor=None, from_status=case.status, note=note,
                   data={"alarm": alarm.pk, "alarm_cleared": True, "automatic": True})
    record(actor=None, action="case.alarm_cleared", obj=case, detail={"number": case.number, "alarm": alarm.pk}, region_path=case.region.path)
    _notify(case, NotificationKind.COMMENTED, f"事件 {case.number} 的设备告警已解除", _assignees(case))
    return event


# ---- workflow (C3, L3) ----------------------------------------------------------------------------------


@transaction.atomic
def case_accept(*, actor: Any, case: Case, note: str = "") -> Case:
    case = _lock(case)
    target = check_action(actor, case, "accept")
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    case.status, case.accepted_at = target, timezone.now()
    return _finish(case, actor=actor, action="accept", before=before, from_status=frm, kind=EventKind.ACCEPTED, note=note)


@transaction.atomic
def case_dispatch(*, actor: Any, case: Case, to: Organisation | None = None, account: Account | None = None, note: str = "",
                  photos: Sequence[str] = ()) -> Case:
    """派单 to ``to`` (default: the organisation the routing table proposed at intake)."""
    case = _lock(case)
    target = check_action(actor, case, "dispatch")
    org = _organisation(to if to is not None else case.assigned_org, code="case.org_required" if to is None and not case.assigned_org_id else "case.org_invalid")
    _check_account(account, org)
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    case.status, case.dispatched_at, case.assigned_org = target, timezone.now(), org
    if account is not None:
        case.assigned_account = account
    _finish(case, actor=actor, action="dispatch", before=before, from_status=frm, kind=EventKind.DISPATCHED, note=note,
            photos=clean_photos(photos), organisation=org, data={"organisation": org.pk})
    _notify(case, NotificationKind.ASSIGNED, f"新派单 {case.number}：{case.title}", [account.pk if account else None, *_org_staff(org.pk)], exclude=actor)
    return case


def _check_account(account: Account | None, org: Organisation) -> None:
    if account is not None and (not account.is_active or account.organisation_id not in (None, org.pk)):
        raise Invalid("case.account_invalid", Msg("处置人不属于该单位", "The handler does not belong to that organisation"))


@transaction.atomic
def case_start(*, actor: Any, case: Case, note: str = "", photos: Sequence[str] = ()) -> Case:
    case = _lock(case)
    target = check_action(actor, case, "start")
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    case.status, case.started_at = target, timezone.now()
    return _finish(case, actor=actor, action="start", before=before, from_status=frm, kind=EventKind.STARTED, note=note, photos=clean_photos(photos))


@transaction.atomic
def case_resolve(*, actor: Any, case: Case, note: str, photos: Sequence[str] = ()) -> Case:
    case = _lock(case)
    target = check_action(actor, case, "resolve")
    note, photos = _need_note(note, "resolve"), clean_photos(photos)
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    case.status, case.resolved_at = target, timezone.now()
    _finish(case, actor=actor, action="resolve", before=before, from_status=frm, kind=EventKind.RESOLVED, note=note, photos=photos)
    _notify(case, NotificationKind.RESOLVED, f"事件 {case.number} 已办结，请核查", [case.assigned_account_id], exclude=actor)
    return case


@transaction.atomic
def case_verify(*, actor: Any, case: Case, note: str = "", photos: Sequence[str] = ()) -> Case:
    case = _lock(case)
    target = check_action(actor, case, "verify")
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    case.status, case.verified_at = target, timezone.now()
    return _finish(case, actor=actor, action="verify", before=before, from_status=frm, kind=EventKind.VERIFIED, note=note, photos=clean_photos(photos))


@transaction.atomic
def case_close(*, actor: Any, case: Case, note: str = "") -> Case:
    case = _lock(case)
    target = check_action(actor, case, "close")
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    case.status, case.closed_at = target, timezone.now()
    _finish(case, actor=actor, action="close", before=before, from_status=frm, kind=EventKind.CLOSED, note=note)
    _notify(case, NotificationKind.RESOLVED, f"您反映的事件 {case.number} 已办结，欢迎评价", [case.reporter_account_id], exclude=actor)
    return case


@transaction.atomic
def case_return(*, actor: Any, case: Case, note: str, photos: Sequence[str] = ()) -> Case:
    """退回 one level: the department hands it back to the dispatcher (and is cleared), the
    dispatcher back to intake, the verifier back to the department."""
    case = _lock(case)
    target = check_action(actor, case, "return")
    note = _need_note(note, "return")
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    returned_by_org = case.assigned_org
    case.status = target
    if frm in (S.DISPATCHED, S.IN_PROGRESS):
        case.assigned_org = None
        case.started_at = None
    _finish(case, actor=actor, action="return", before=before, from_status=frm, kind=EventKind.RETURNED, note=note,
            photos=clean_photos(photos), organisation=returned_by_org, data={"to": target})
    recipients = _assignees(case) if frm == S.RESOLVED else [case.assigned_account_id]
    _notify(case, NotificationKind.RETURNED, f"事件 {case.number} 被退回：{note[:80]}", recipients, exclude=actor)
    return case


def _redirect(*, actor: Any, case: Case, action: str, kind: str, to: Organisation, account: Account | None, note: str) -> Case:
    case = _lock(case)
    target = check_action(actor, case, action)
    org = _organisation(to)
    _check_account(account, org)
    if org.pk == case.assigned_org_id and account is None:
        raise Invalid("case.same_org", Msg("新的责任单位与当前相同", "The case is already with that organisation"))
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    previous = case.assigned_org_id
    case.status, case.assigned_org, case.dispatched_at, case.started_at = target, org, timezone.now(), None
    if account is not None:
        case.assigned_account = account
    _finish(case, actor=actor, action=action, before=before, from_status=frm, kind=kind, note=note, organisation=org,
            data={"organisation": org.pk, "previous_organisation": previous})
    _notify(case, NotificationKind.ASSIGNED, f"新派单 {case.number}：{case.title}", [account.pk if account else None, *_org_staff(org.pk)], exclude=actor)
    return case


@transaction.atomic
def case_reassign(*, actor: Any, case: Case, to: Organisation, account: Account | None = None, note: str = "") -> Case:
    """改派 by the dispatcher to another organisation (and/or handler)."""
    return _redirect(actor=actor, case=case, action="reassign", kind=EventKind.REASSIGNED, to=to, account=account, note=note)


@transaction.atomic
def case_transfer(*, actor: Any, case: Case, to: Organisation, note: str) -> Case:
    """转办 by the handling department straight to another department (L3)."""
    return _redirect(actor=actor, case=case, action="transfer", kind=EventKind.TRANSFERRED, to=to, account=None, note=_need_note(note, "transfer"))


@transaction.atomic
def case_co_handle(*, actor: Any, case: Case, organisations: Sequence[Organisation], note: str = "") -> Case:
    """协办: add organisations that help (they see and comment on the case) (L3)."""
    case = _lock(case)
    check_action(actor, case, "co_handle")
    orgs = [_organisation(o) for o in organisations]
    if not orgs:
        raise Invalid("case.org_required", Msg("请选择协办单位", "Choose at least one organisation"))
    existing = _cohandler_org_ids(case) | {case.assigned_org_id}
    new = [o for o in {o.pk: o for o in orgs}.values() if o.pk not in existing]
    if not new:
        raise Invalid("case.cohandler_exists", Msg("所选单位已在办理该事件", "Those organisations already work on this case"))
    CaseCoHandler.objects.bulk_create([CaseCoHandler(case=case, organisation=o, added_by=actor, note=note[:300]) for o in new])
    before = snapshot(case, AUDIT_FIELDS)
    _finish(case, actor=actor, action="co_handle", before=before, from_status=case.status, kind=EventKind.CO_HANDLE_ADDED, note=note,
            data={"organisations": [o.pk for o in new]})
    _notify(case, NotificationKind.ASSIGNED, f"请协办事件 {case.number}：{case.title}", [a for o in new for a in _org_staff(o.pk)], exclude=actor)
    return case


@transaction.atomic
def case_comment(*, actor: Any, case: Case, note: str, photos: Sequence[str] = ()) -> CaseEvent:
    """留言 with optional photo evidence; the reporter may comment on their own case."""
    case = _lock(case)
    check_action(actor, case, "comment")
    note, photos = _need_note(note, "comment"), clean_photos(photos)
    _event(case, EventKind.COMMENTED, actor=actor, from_status=case.status, note=note, photos=photos)
    record(actor=actor, action="case.comment", obj=case, detail={"number": case.number, "photos": len(photos)}, region_path=case.region.path)
    _notify(case, NotificationKind.COMMENTED, f"事件 {case.number} 有新留言", [*_assignees(case), case.reporter_account_id], exclude=actor)
    return CaseEvent.objects.get(case=case, seq=case.event_seq)


@transaction.atomic
def case_escalate(*, actor: Any, case: Case, note: str) -> Case:
    """督办 by hand: one level up (street → district), notifying the assignees."""
    case = _lock(case)
    check_action(actor, case, "escalate")
    note = _need_note(note, "escalate")
    if case.escalation_level >= 2:
        raise Conflict("case.escalation_max", Msg("已升级至区县，不能再升级", "Already escalated to the district"))
    before = snapshot(case, AUDIT_FIELDS)
    case.escalation_level += 1
    case.escalated_at = timezone.now()
    _finish(case, actor=actor, action="escalate", before=before, from_status=case.status, kind=EventKind.ESCALATED, note=note,
            data={"level": case.escalation_level, "manual": True})
    _notify(case, NotificationKind.SUPERVISED, f"事件 {case.number} 被督办：{note[:80]}", _assignees(case), exclude=actor)
    return case


@transaction.atomic
def case_merge(*, actor: Any, case: Case, into: Case, note: str = "") -> Case:
    """Merge a duplicate into the primary case: the duplicate ends as ``merged``, both timelines say so."""
    if case.pk == into.pk:
        raise Invalid("case.merge_self", Msg("不能合并到自身", "A case cannot be merged into itself"))
    first, second = sorted([case, into], key=lambda c: c.pk)  # lock in id order: no deadlocks
    locked = {c.pk: _lock(c) for c in (first, second)}
    case, into = locked[case.pk], locked[into.pk]
    target = check_action(actor, case, "merge")
    check_view(actor, into)
    if not holds(actor, CasePerm.ACCEPT, into):
        raise _forbidden(CasePerm.ACCEPT)
    if into.status in (S.MERGED, S.CLOSED):
        raise Conflict("case.merge_target_invalid", Msg("目标工单已结案或已合并", "The target case is closed or merged"),
                       detail={"status": into.status})
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    case.status, case.merged_into = target, into
    _finish(case, actor=actor, action="merge", before=before, from_status=frm, kind=EventKind.MERGED, note=note, data={"into": into.pk, "into_number": into.number})
    _event(into, EventKind.MERGED, actor=actor, from_status=into.status, note=note, data={"merged": case.pk, "merged_number": case.number})
    _notify(case, NotificationKind.ASSIGNED, f"您反映的问题已与 {into.number} 合并办理", [case.reporter_account_id], exclude=actor)
    return case


def reopen_window() -> dt.timedelta:
    return dt.timedelta(days=int(getattr(settings, "LINLI_CASE_REOPEN_DAYS", 7)))


@transaction.atomic
def case_reopen(*, actor: Any, case: Case, note: str) -> Case:
    """重开 by the reporter (or staff with case.close on their behalf) within the window after closing;
    back to the same department with a fresh SLA clock."""
    case = _lock(case)
    check_action(actor, case, "reopen")
    note = _need_note(note, "reopen")
    now = timezone.now()
    if case.closed_at is None or now > case.closed_at + reopen_window():
        raise Conflict("case.reopen_window_passed", Msg("已超过重开期限（结案后{days}天）", "Reopening is possible only {days} days after closing"),
                       days=reopen_window().days, detail={"closed_at": case.closed_at.isoformat() if case.closed_at else None})
    before, frm = snapshot(case, AUDIT_FIELDS), case.status
    case.status = S.DISPATCHED if case.assigned_org_id else S.ACCEPTED
    case.reopen_count += 1
    case.reopened_at = now
    case.sla_started_at = now
    case.warn_at, case.due_at, case.escalate2_at = calendar.sla_instants(now, case.time_limit_hours, working=case.working_hours)
    case.warned_at, case.escalation_level, case.escalated_at = None, 0, None
    case.started_at = case.resolved_at = case.verified_at = case.closed_at = None
    _finish(case, actor=actor, action="reopen", before=before, from_status=frm, kind=EventKind.REOPENED, note=note, data={"round": case.reopen_count})
    _notify(case, NotificationKind.REOPENED, f"事件 {case.number} 被重开：{note[:80]}", _assignees(case), exclude=actor)
    return case


@transaction.atomic
def case_rate(*, actor: Any, case: Case, score: int, comment: str = "") -> CaseRating:
    """满意度 1–5 by the reporter, or recorded by staff (case.close) from a follow-up call (C4)."""
    case = _lock(case)
    check_action(actor, case, "rate")
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise Invalid("case.rating_score", Msg("满意度须为1到5分", "The score must be 1 to 5"))
    if CaseRating.objects.filter(case=case, round=case.reopen_count).exists():
        raise Conflict("case.already_rated", Msg("该工单已评价", "This case has already been rated"))
    rating = CaseRating.objects.create(case=case, round=case.reopen_count, score=score, comment=(comment or "")[:500], rated_by=actor,
                                       on_behalf=not is_reporter(actor, case), organisation_id=case.assigned_org_id)
    _event(case, EventKind.RATED, actor=actor, from_status=case.status, note=rating.comment, data={"score": score})
    record(actor=actor, action="case.rate", obj=rating, after={"score": score, "case": case.pk}, region_path=case.region.path)
    return rating


# ---- configuration (C2) ---------------------------------------------------------------------------------

RULE_FIELDS = ("region", "category", "organisation", "time_limit_hours", "priority", "note", "is_active")


def _save_rule(rule: RoutingRule) -> None:
    clash = RoutingRule.objects.filter(region_id=rule.region_id, category_id=rule.category_id).exclude(pk=rule.pk)
    if clash.exists():
        raise Conflict("case.routing_rule_exists", Msg("该区域和分类已有派单规则", "A rule for this region and category exists"),
                       detail={"rule": clash.values_list("pk", flat=True).first()})
    rule.full_clean(validate_unique=False, validate_constraints=False)  # checked above; the DB enforces the rest
    rule.save()


def _check_config(actor: Any, region: Region) -> None:
    if not covers_any(actor, CasePerm.CONFIG):
        raise _forbidden(CasePerm.CONFIG)
    if not covers(actor, CasePerm.CONFIG, region.path):
        raise NotFound("place.region_not_found")


@transaction.atomic
def routing_rule_create(*, actor: Any, region: Region, organisation: Organisation, category: Category | None = None,
                        time_limit_hours: int | None = None, priority: str = "", note: str = "", is_active: bool = True) -> RoutingRule:
    _check_config(actor, region)
    rule = RoutingRule(region=region, category=category, organisation=_organisation(organisation), time_limit_hours=time_limit_hours,
                       priority=priority or "", note=note, is_active=is_active)
    _save_rule(rule)
    record(actor=actor, action="case.routing_rule.create", obj=rule, after=snapshot(rule), region_path=region.path)
    return rule


@transaction.atomic
def routing_rule_update(*, actor: Any, rule: RoutingRule, **changes: Any) -> RoutingRule:
    rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    _check_config(actor, rule.region)
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise Invalid("request.unknown_fields", Msg("包含不可修改的字段", "Unknown fields"), detail={"fields": sorted(unknown)})
    before = snapshot(rule)
    for k, v in changes.items():
        if k == "organisation":
            v = _organisation(v)
        setattr(rule, k, "" if k == "priority" and v is None else v)
    if "region" in changes:
        _check_config(actor, rule.region)
    _save_rule(rule)
    record(actor=actor, action="case.routing_rule.update", obj=rule, before=before, after=snapshot(rule), region_path=rule.region.path)
    return rule


@transaction.atomic
def routing_rule_delete(*, actor: Any, rule: RoutingRule) -> None:
    rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    _check_config(actor, rule.region)
    record(actor=actor, action="case.routing_rule.delete", obj=rule, before=snapshot(rule), region_path=rule.region.path)
    rule.delete()


# ---- working calendar (C2) --------------------------------------------------------------------------------

CALENDAR_FALLBACK = ("未确认的年份按周一至周五计工作日，仅扣除已录入的法定节假日，不含调休上班日；受影响工单在时间线中标注“calendar_provisional”。"
                     " / Unconfirmed years count Monday–Friday minus the holidays entered, without adjusted working days;"
                     " affected cases are flagged calendar_provisional.")


def check_calendar_edit(actor: Any) -> None:
    """The working calendar is national: editing it needs case.config over a whole tree (root)."""
    from linli.orgs.selectors import holds_at_root

    if not holds_at_root(actor, CasePerm.CONFIG):
        raise _forbidden(CasePerm.CONFIG)


@transaction.atomic
def calendar_year_set(*, actor: Any, year: int, days: Sequence[dict[str, Any]], confirmed: bool, source: str = "") -> list[HolidayDay]:
    """Replace ``year``'s holidays and 调休 working days, and say whether they are the official
    schedule. Every day must lie in the year, appear once, and differ from the Monday–Friday default
    (a holiday on a weekday, a working day on a weekend)."""
    check_calendar_edit(actor)
    if not 2000 <= year <= 2100:
        raise Invalid("calendar.year_invalid", Msg("年份超出范围", "Year out of range"), detail={"year": year})
    seen: set[dt.date] = set()
    rows = []
    source = (source or "").strip()[:80] or f"{year}年工作日历（人工录入）"
    for d in days:
        day, workday, name = d["date"], bool(d["is_workday"]), (d.get("name") or "").strip()[:40]
        problem = None
        if day.year != year:
            problem = ("calendar.day_outside_year", Msg("日期 {day} 不在 {year} 年", "{day} is not in {year}"))
        elif day in seen:
            problem = ("calendar.day_duplicate", Msg("日期 {day} 重复", "{day} appears twice"))
        elif workday == (day.weekday() < 5):
            problem = ("calendar.day_redundant", Msg("{day} 本来就是{kind}，无需录入", "{day} already is a {kind_en} by default"))
        if problem:
            code, msg = problem
            raise Invalid(code, msg, day=day.isoformat(), year=year, kind="工作日" if workday else "休息日",
                          kind_en="working day" if workday else "day off", detail={"date": day.isoformat()})
        seen.add(day)
        rows.append(HolidayDay(date=day, is_workday=workday, name=name, source=source))
    before = list(HolidayDay.objects.filter(date__year=year).order_by("date").values_list("date", "is_workday"))
    HolidayDay.objects.filter(date__year=year).delete()
    HolidayDay.objects.bulk_create(rows)
    CalendarYear.objects.update_or_create(year=year, defaults={"confirmed": confirmed, "source": (source or "")[:200]})
    config.bump()  # bulk writes send no per-row signal
    record(actor=actor, action="case.calendar.set", object_type="cases.calendaryear", object_id=year,
           before={"days": [[d.isoformat(), w] for d, w in before]},
           after={"days": [[r.date.isoformat(), r.is_workday] for r in rows], "confirmed": confirmed})
    return sorted(rows, key=lambda r: r.date)


# ---- notifications ---------------------------------------------------------------------------------------


def notifications_mark_read(*, actor: Any, ids: Sequence[int] | None = None) -> int:
    """Mark the actor's own notifications read (all unread when ``ids`` is None)."""
    qs = Notification.objects.filter(recipient_id=actor.pk, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids)[:500])
    return qs.update(read_at=timezone.now())


# ---- duplicates (C1) --------------------------------------------------------------------------------------


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371000.0 * math.asin(math.sqrt(a))


def nearby_open_cases(*, category_id: int, lat: float, lng: float, at: dt.datetime, exclude_id: int | None = None,
                      radius_m: float | None = None, hours: float | None = None, limit: int = 10,
                      visible: Q | None = None) -> list[tuple[Case, float]]:
    """Open cases of the same category within ``radius_m`` metres created in the ``hours`` before
    ``at`` — nearest first. A bounding box on the indexed (category, created_at) range, then haversine.
    ``visible``: an extra filter (an actor's scope, ``selectors.visible_q``) applied in the same query."""
    radius_m = radius_m if radius_m is not None else float(getattr(settings, "LINLI_CASE_DUPLICATE_RADIUS_M", 100))
    hours = hours if hours is not None else float(getattr(settings, "LINLI_CASE_DUPLICATE_HOURS", 72))
    dlat = radius_m / 111_320.0
    dlng = radius_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    qs = Case.objects.filter(
        category_id=category_id, status__in=[s.value for s in OPEN_STATUSES], created_at__gte=at - dt.timedelta(hours=hours),
        created_at__lte=at, lat__range=(lat - dlat, lat + dlat), lng__range=(lng - dlng, lng + dlng),
    ).only("id", "number", "title", "status", "lat", "lng", "created_at")  # what a "same problem?" offer shows
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    if visible is not None:
        qs = qs.filter(visible)
    found = [(c, distance_m(lat, lng, c.lat, c.lng)) for c in qs[:200]]
    found = [(c, d) for c, d in found if d <= radius_m]
    found.sort(key=lambda x: (x[1], x[0].pk))
    return found[:limit]


__all__ = [
    "ACTIONS", "allowed_actions", "check_action", "check_transition", "check_view", "check_report", "case_report",
    "case_accept", "case_dispatch", "case_start", "case_resolve", "case_verify", "case_close", "case_return",
    "case_reassign", "case_transfer", "case_co_handle", "case_comment", "case_escalate", "case_merge", "case_reopen",
    "case_rate", "routing_rule_create", "routing_rule_update", "routing_rule_delete", "notifications_mark_read",
    "nearby_open_cases", "Priority", "case_from_alarm", "alarm_category", "case_note_alarm_cleared", "calendar_year_set",
]
