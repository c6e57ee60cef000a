"""/api/v1/access — gate groups, gates, rules, holidays, blocks, credentials, QR, visitors, watch list,
alarms, the access log and statistics (staff and residents), and the device side: POST /decide,
GET /gates/{code}/allowlist, POST /events/upload (gates authenticate with their own token)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from ninja import Router, Status
from ninja.security import HttpBearer

from linli.core.errors import Forbidden, NotFound
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page
from linli.orgs.auth import api_auth
from linli.orgs.models import Role, hash_token
from linli.people.models import Person
from linli.places.models import Building, Estate, House, Region, Unit

from . import decision, tokens
from . import selectors as sel
from . import services as svc
from .schemas import (
    AlarmOut,
    AllowlistOut,
    BlockIn,
    BlockOut,
    ConfirmIn,
    CredentialIn,
    CredentialIssuedOut,
    CredentialOut,
    DecideIn,
    DecideOut,
    EventOut,
    ExpiryIn,
    GateCreatedOut,
    GateIn,
    GateOut,
    GatePatch,
    GateVisitorIn,
    GroupIn,
    GroupOut,
    GroupPatch,
    HolidayIn,
    HolidayOut,
    InviteIn,
    InviteOut,
    LastSeenOut,
    PassOut,
    QrIn,
    QrOut,
    ReasonIn,
    RuleIn,
    RuleOut,
    SigningKeyOut,
    StatOut,
    TokenOut,
    UploadIn,
    UploadOut,
    WatchIn,
    WatchOut,
)


class GateAuth(HttpBearer):
    """A gate controller's bearer token, matched against the in-memory index (no query per call)."""

    openapi_scheme = "bearer"

    def authenticate(self, request, token: str):
        if not token or len(token) > 200:
            return None
        return decision.gate_for_token(hash_token(token))


gate_auth = GateAuth()
router = Router()


def _page(qs, cursor: str | None, limit: int | None, order: str = "-id") -> dict[str, Any]:
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, order=order)
    return {"items": rows, "next_cursor": next_cursor}


def _ref(model: type, pk: int | None) -> Any:
    return sel.ref(model, pk)


# ---- gate groups and gates ---------------------------------------------------------------------------


@router.get("/groups", response={200: Page[GroupOut], **ERRORS}, summary="门禁组列表")
def list_groups(request, estate_id: int | None = None, level: str | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.group_list(actor=request.auth, estate_id=estate_id, level=level), cursor, limit)


@router.post("/groups", response={201: GroupOut, **ERRORS}, summary="新建门禁组")
def create_group(request, payload: GroupIn):
    g = svc.gate_group_create(actor=request.auth, code=payload.code, name=payload.name, level=payload.level,
                              estate=_ref(Estate, payload.estate_id), building=_ref(Building, payload.building_id),
                              unit=_ref(Unit, payload.unit_id), is_active=payload.is_active)
    return Status(201, g)


@router.get("/groups/{group_id}", response={200: GroupOut, **ERRORS}, summary="门禁组详情")
def get_group(request, group_id: int):
    return sel.group_get(actor=request.auth, group_id=group_id)


@router.patch("/groups/{group_id}", response={200: GroupOut, **ERRORS}, summary="修改门禁组")
def patch_group(request, group_id: int, payload: GroupPatch):
    g = sel.group_get(actor=request.auth, group_id=group_id)
    return svc.gate_group_update(actor=request.auth, group=g, **payload.dict(exclude_unset=True))


@router.delete("/groups/{group_id}", response={204: None, **ERRORS}, summary="删除门禁组")
def delete_group(request, group_id: int):
    svc.gate_group_delete(actor=request.auth, group=sel.group_get(actor=request.auth, group_id=group_id))
    return Status(204, None)


@router.get("/gates", response={200: Page[GateOut], **ERRORS}, summary="门禁点列表")
def list_gates(request, group_id: int | None = None, q: str | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.gate_list(actor=request.auth, group_id=group_id, q=q), cursor, limit)


@router.post("/gates", response={201: GateCreatedOut, **ERRORS}, summary="新建门禁点（返回一次性设备令牌）")
def create_gate(request, payload: GateIn):
    group = sel.group_get(actor=request.auth, group_id=payload.group_id)
    gate, raw = svc.gate_create(actor=request.auth, code=payload.code, name=payload.name, group=group, kind=payload.kind,
                                device_serial=payload.device_serial)
    gate.token = raw
    return Status(201, gate)


@router.get("/gates/{gate_id}", response={200: GateOut, **ERRORS}, summary="门禁点详情")
def get_gate(request, gate_id: int):
    return sel.gate_get(actor=request.auth, gate_id=gate_id)


@router.patch("/gates/{gate_id}", response={200: GateOut, **ERRORS}, summary="修改门禁点")
def patch_gate(request, gate_id: int, payload: GatePatch):
    gate = sel.gate_get(actor=request.auth, gate_id=gate_id)
    changes = payload.dict(exclude_unset=True)
    if "group_id" in changes:
        changes["group"] = sel.group_get(actor=request.auth, group_id=changes.pop("group_id"))
    return svc.gate_update(actor=request.auth, gate=gate, **changes)


@router.delete("/gates/{gate_id}", response={204: None, **ERRORS}, summary="删除门禁点（无通行记录时）")
def delete_gate(request, gate_id: int):
    svc.gate_delete(actor=request.auth, gate=sel.gate_get(actor=request.auth, gate_id=gate_id))
    return Status(204, None)


@router.post("/gates/{gate_id}/token", response={200: TokenOut, **ERRORS}, summary="重置设备令牌")
def reset_gate_token(request, gate_id: int):
    return {"token": svc.gate_token_reset(actor=request.auth, gate=sel.gate_get(actor=request.auth, gate_id=gate_id))}


# ---- rules, holidays, blocks -----------------------------------------------------------------------


@router.get("/rules", response={200: Page[RuleOut], **ERRORS}, summary="通行时段规则")
def list_rules(request, group_id: int | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.rule_list(actor=request.auth, group_id=group_id), cursor, limit)


@router.post("/rules", response={201: RuleOut, **ERRORS}, summary="新建通行时段规则")
def create_rule(request, payload: RuleIn):
    group = sel.group_get(actor=request.auth, group_id=payload.group_id)
    role = Role.objects.filter(pk=payload.role_id).first() if payload.role_id else None
    if payload.role_id and role is None:
        raise NotFound("access.role_not_found")
    rule = svc.rule_create(actor=request.auth, group=group, audience=payload.audience, role=role, weekdays=payload.weekdays,
                           start_minute=payload.start_minute, end_minute=payload.end_minute, name=payload.name)
    return Status(201, rule)


@router.delete("/rules/{rule_id}", response={204: None, **ERRORS}, summary="删除通行时段规则")
def delete_rule(request, rule_id: int):
    svc.rule_delete(actor=request.auth, rule=sel.rule_get(actor=request.auth, rule_id=rule_id))
    return Status(204, None)


@router.get("/holidays", response={200: Page[HolidayOut], **ERRORS}, summary="门禁节假日")
def list_holidays(request, cursor: str | None = None, limit: int | None = None):
    return _page(sel.holiday_list(actor=request.auth), cursor, limit)


@router.post("/holidays", response={201: HolidayOut, **ERRORS}, summary="新增节假日")
def create_holiday(request, payload: HolidayIn):
    return Status(201, svc.holiday_add(actor=request.auth, region=_ref(Region, payload.region_id), date=payload.date, name=payload.name))


@router.delete("/holidays/{holiday_id}", response={204: None, **ERRORS}, summary="删除节假日")
def delete_holiday(request, holiday_id: int):
    svc.holiday_remove(actor=request.auth, holiday=sel.holiday_get(actor=request.auth, holiday_id=holiday_id))
    return Status(204, None)


@router.get("/blocks", response={200: Page[BlockOut], **ERRORS}, summary="临时禁行列表")
def list_blocks(request, person_id: int | None = None, active: bool | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.block_list(actor=request.auth, person_id=person_id, active=active), cursor, limit)


@router.post("/blocks", response={201: BlockOut, **ERRORS}, summary="新增临时禁行")
def create_block(request, payload: BlockIn):
    group = sel.group_get(actor=request.auth, group_id=payload.group_id) if payload.group_id else None
    b = svc.block_add(actor=request.auth, reason=payload.reason, person=_ref(Person, payload.person_id), group=group,
                      starts_at=payload.starts_at, ends_at=payload.ends_at)
    return Status(201, b)


@router.post("/blocks/{block_id}/lift", response={200: BlockOut, **ERRORS}, summary="解除禁行")
def lift_block(request, block_id: int):
    return svc.block_remove(actor=request.auth, block=sel.block_get(actor=request.auth, block_id=block_id))


# ---- credentials and QR ----------------------------------------------------------------------------


@router.get("/credentials", response={200: Page[CredentialOut], **ERRORS}, summary="凭证列表")
def list_credentials(request, person_id: int | None = None, kind: str | None = None, status: str | None = None,
                     cursor: str | None = None, limit: int | None = None):
    return _page(sel.credential_list(actor=request.auth, person_id=person_id, kind=kind, status=status), cursor, limit)


@router.post("/credentials", response={201: CredentialIssuedOut, **ERRORS}, summary="发放凭证（人脸/指纹须本人单独同意）")
def issue_credential(request, payload: CredentialIn):
    person = _ref(Person, payload.person_id)
    c = svc.credential_issue(actor=request.auth, person=person, kind=payload.kind, house=_ref(House, payload.house_id),
                             value=payload.value, template_ref=payload.template_ref, valid_from=payload.valid_from,
                             valid_until=payload.valid_until)
    c.other_ways = svc.other_ways_in(person)
    c.offer_card_or_qr = not c.other_ways
    return Status(201, c)


@router.get("/credentials/{credential_id}", response={200: CredentialOut, **ERRORS}, summary="凭证详情")
def get_credential(request, credential_id: int):
    return sel.credential_get(actor=request.auth, credential_id=credential_id)


def _status_route(action: str, fn):
    @router.post(f"/credentials/{{credential_id}}/{action}", response={200: CredentialOut, **ERRORS}, summary=f"凭证 {action}",
                 operation_id=f"credential_{action}")
    def _view(request, credential_id: int, payload: ReasonIn):
        c = sel.credential_get(actor=request.auth, credential_id=credential_id)
        return fn(actor=request.auth, credential=c, reason=payload.reason)

    return _view


suspend_credential = _status_route("suspend", svc.credential_suspend)
reactivate_credential = _status_route("reactivate", svc.credential_reactivate)
revoke_credential = _status_route("revoke", svc.credential_revoke)


@router.post("/credentials/{credential_id}/expiry", response={200: CredentialOut, **ERRORS}, summary="设置凭证失效时间")
def set_credential_expiry(request, credential_id: int, payload: ExpiryIn):
    c = sel.credential_get(actor=request.auth, credential_id=credential_id)
    return svc.credential_set_expiry(actor=request.auth, credential=c, valid_until=payload.valid_until)


@router.post("/qr", response={200: QrOut, **ERRORS}, summary="生成短时效通行二维码")
def issue_qr(request, payload: QrIn):
    actor = request.auth
    person_id = payload.person_id or getattr(actor, "person_id", None)
    if person_id is None:
        raise Forbidden("access.not_a_resident", Msg("请指定人员", "Name the person"))
    person = _ref(Person, person_id)
    token, expires, cred = svc.qr_issue(actor=actor, person=person, house=_ref(House, payload.house_id), ttl=payload.ttl)
    return {"token": token, "expires_at": expires, "credential_id": cred.pk}


@router.get("/my/credentials", response={200: Page[CredentialOut], **ERRORS}, summary="我的凭证")
def my_credentials(request, cursor: str | None = None, limit: int | None = None):
    return _page(sel.my_credentials(request.auth), cursor, limit)


@router.post("/my/credentials/{credential_id}/suspend", response={200: CredentialOut, **ERRORS}, summary="挂失我的凭证")
def suspend_my_credential(request, credential_id: int, payload: ReasonIn):
    return svc.credential_suspend(actor=request.auth, credential=sel.my_credential(request.auth, credential_id), reason=payload.reason)


# ---- visitors ---------------------------------------------------------------------------------------


@router.get("/my/invites", response={200: Page[InviteOut], **ERRORS}, summary="我家的访客")
def my_invites(request, cursor: str | None = None, limit: int | None = None):
    return _page(sel.my_invites(request.auth), cursor, limit)


@router.post("/my/invites", response={201: InviteOut, **ERRORS}, summary="邀请访客")
def create_invite(request, payload: InviteIn):
    inv = svc.visitor_invite(actor=request.auth, house=_ref(House, payload.house_id), visitor_name=payload.visitor_name,
                             valid_from=payload.valid_from, valid_until=payload.valid_until, visitor_phone=payload.visitor_phone,
                             plate=payload.plate)
    return Status(201, inv)


@router.post("/my/invites/{invite_id}/confirm", response={200: InviteOut, **ERRORS}, summary="确认/拒绝来访")
def confirm_my_invite(request, invite_id: int, payload: ConfirmIn):
    return svc.host_confirm(actor=request.auth, invite=sel.my_invite(request.auth, invite_id), accept=payload.accept)


@router.post("/my/invites/{invite_id}/cancel", response={200: InviteOut, **ERRORS}, summary="取消我的邀请")
def cancel_my_invite(request, invite_id: int):
    return svc.visitor_cancel(actor=request.auth, invite=sel.my_invite(request.auth, invite_id))


@router.get("/my/invites/{invite_id}/pass", response={200: PassOut, **ERRORS}, summary="访客通行码")
def my_invite_pass(request, invite_id: int):
    token, expires = svc.visitor_pass(invite=sel.my_invite(request.auth, invite_id))
    return {"token": token, "expires_at": expires}


@router.get("/visitors", response={200: Page[InviteOut], **ERRORS}, summary="访客记录")
def list_visitors(request, status: str | None = None, house_id: int | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.visitor_list(actor=request.auth, status=status, house_id=house_id), cursor, limit)


@router.get("/visitors/{invite_id}", response={200: InviteOut, **ERRORS}, summary="访客详情")
def get_visitor(request, invite_id: int):
    return sel.visitor_get(actor=request.auth, invite_id=invite_id)


@router.post("/visitors/register", response={201: InviteOut, **ERRORS}, summary="门岗实名登记访客")
def register_visitor(request, payload: GateVisitorIn):
    gate = sel.gate_get(actor=request.auth, gate_id=payload.gate_id)
    inv = svc.visitor_register_at_gate(actor=request.auth, gate=gate, house=_ref(House, payload.house_id), visitor_name=payload.visitor_name,
                                       id_type=payload.id_type, id_number=payload.id_number, visitor_phone=payload.visitor_phone,
                                       plate=payload.plate, hours=payload.hours)
    return Status(201, inv)


@router.post("/visitors/{invite_id}/confirm", response={200: InviteOut, **ERRORS}, summary="代住户确认来访（电话确认）")
def confirm_visitor(request, invite_id: int, payload: ConfirmIn):
    return svc.host_confirm(actor=request.auth, invite=sel.visitor_get(actor=request.auth, invite_id=invite_id), accept=payload.accept)


@router.post("/visitors/{invite_id}/cancel", response={200: InviteOut, **ERRORS}, summary="取消来访（门岗）")
def cancel_visitor(request, invite_id: int):
    return svc.visitor_cancel(actor=request.auth, invite=sel.visitor_get(actor=request.auth, invite_id=invite_id))


@router.get("/visitors/{invite_id}/pass", response={200: PassOut, **ERRORS}, summary="访客通行码（门岗打印）")
def visitor_pass(request, invite_id: int):
    token, expires = svc.visitor_pass(invite=sel.visitor_get(actor=request.auth, invite_id=invite_id))
    return {"token": token, "expires_at": expires}


# ---- watch list and alarms ----------------------------------------------------------------------------


@router.get("/watch-list", response={200: Page[WatchOut], **ERRORS}, summary="关注名单")
def list_watch(request, kind: str | None = None, active: bool | None = True, cursor: str | None = None, limit: int | None = None):
    return _page(sel.watch_list(actor=request.auth, kind=kind, active=active), cursor, limit)


@router.post("/watch-list", response={201: WatchOut, **ERRORS}, summary="加入关注名单")
def create_watch(request, payload: WatchIn):
    w = svc.watch_add(actor=request.auth, region=_ref(Region, payload.region_id), kind=payload.kind, reason=payload.reason,
                      policy=payload.policy, id_number=payload.id_number, plate=payload.plate, source=payload.source)
    return Status(201, w)


@router.delete("/watch-list/{entry_id}", response={200: WatchOut, **ERRORS}, summary="移出关注名单")
def delete_watch(request, entry_id: int):
    return svc.watch_remove(actor=request.auth, entry=sel.watch_get(actor=request.auth, entry_id=entry_id))


@router.get("/alarms", response={200: Page[AlarmOut], **ERRORS}, summary="门禁告警")
def list_alarms(request, open_only: bool = False, cursor: str | None = None, limit: int | None = None):
    return _page(sel.alarm_list(actor=request.auth, open_only=open_only), cursor, limit)


@router.post("/alarms/{alarm_id}/acknowledge", response={200: AlarmOut, **ERRORS}, summary="确认告警")
def acknowledge_alarm(request, alarm_id: int):
    return svc.alarm_acknowledge(actor=request.auth, alarm=sel.alarm_get(actor=request.auth, alarm_id=alarm_id))


# ---- the log (A5) ---------------------------------------------------------------------------------------


@router.get("/events", response={200: Page[EventOut], **ERRORS}, summary="通行记录")
def list_events(request, gate_id: int | None = None, person_id: int | None = None, result: str | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None, cursor: str | None = None, limit: int | None = None):
    qs = sel.event_list(actor=request.auth, gate_id=gate_id, person_id=person_id, result=result, since=since, until=until)
    return _page(qs, cursor, limit)


@router.get("/stats", response={200: list[StatOut], **ERRORS}, summary="各门禁点逐小时通行统计")
def stats(request, since: dt.datetime | None = None, until: dt.datetime | None = None, gate_id: int | None = None):
    until = until or timezone.now()
    since = since or until - dt.timedelta(days=1)
    return sel.stats_per_gate_hour(actor=request.auth, since=since, until=until, gate_id=gate_id)


@router.get("/persons/{person_id}/last-seen", response={200: LastSeenOut, **ERRORS}, summary="最近通行时间")
def last_seen(request, person_id: int):
    return {"person_id": person_id, "last_seen": sel.last_seen_for(actor=request.auth, person_id=person_id)}


# ---- the device side (A3) ----------------------------------------------------------------------------


@router.post("/decide", auth=gate_auth, response={200: DecideOut, **ERRORS}, summary="设备：通行判定")
def decide(request, payload: DecideIn):
    d, uid = svc.decide_and_log(gate=request.auth, credential_kind=payload.credential_kind, credential_value=payload.credential_value,
                                at=payload.at, event_uid=payload.event_uid)
    return {"allowed": d.allowed, "reason": d.reason, "person_id": d.person_id, "event_uid": uid}


@router.get("/gates/{code}/allowlist", auth=[gate_auth, *api_auth], response={200: AllowlistOut, **ERRORS},
            summary="设备：离线白名单（Ed25519签名、带版本）")
def gate_allowlist(request, code: str):
    who = request.auth
    if isinstance(who, decision.GateRow):
        if who.code != code:
            raise NotFound("access.gate_not_found")
        gate = who
    else:
        gate = decision.get_index().gates.get(code) if sel.gate_list(actor=who).filter(code=code).exists() else None
        if gate is None:
            raise NotFound("access.gate_not_found")
    return svc.allowlist(gate=gate)


@router.post("/events/upload", auth=gate_auth, response={200: UploadOut, **ERRORS}, summary="设备：补传离线通行记录（去重）")
def upload_events(request, payload: UploadIn):
    return svc.events_upload(gate=request.auth, events=[e.dict() for e in payload.events])


@router.get("/signing-key", auth=None, response={200: SigningKeyOut}, summary="离线白名单验签公钥")
def signing_key(request):
    return {"algorithm": "Ed25519", "public_key": tokens.public_key_b64()}
