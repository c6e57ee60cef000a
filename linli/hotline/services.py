"""Writes of the service hotline (L1): a call comes in (CTI screen pop or a number the agent types),
the agent answers from the knowledge base or opens a case in one form, and ends the call with an
outcome; later an agent calls the caller back (回拨) or follows a closed case up (回访). Every function is keyword-only, atomic, checks the actor first and writes one audit entry.
The caller's number is stored encrypted with a blind index and never written to the audit trail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from linli.audit.services import record, record_read, snapshot
from linli.cases import selectors as case_selectors
from linli.cases import services as case_services
from linli.cases.models import Case, Category, Channel
from linli.cases.models import Status as CaseStatus
from linli.cases.perms import CasePerm
from linli.core import pii
from linli.core.errors import Conflict, Forbidden, Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.validators import normalise_phone
from linli.knowledge.models import Article
from linli.knowledge.models import Status as ArticleStatus
from linli.orgs.perms import check_perm_anywhere, covers, covers_any
from linli.people.models import Person
from linli.places.models import House, Region

from .models import REACHED, Call, CallArticle, CallbackResult, CallCategory, Direction, Outcome
from .perms import HotlinePerm

AUDIT_FIELDS = ["agent", "region", "direction", "started_at", "answered_at", "ended_at", "outcome", "category", "person", "case",
                "external_id", "callback_of", "callback_result"]
MAX_NOTES = 4000


# ---- who may do what ---------------------------------------------------------------------------------


def can_view(actor: Any, call: Call) -> bool:
    """The agent who took the call, or a holder of hotline.view over the call's region."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    return call.agent_id == actor.pk or covers(actor, HotlinePerm.VIEW, call.region.path)


def check_handle(actor: Any, call: Call) -> None:
    """Only the agent on the call works it: others who may see it get 403, everyone else 404."""
    if call.agent_id == actor.pk and covers_any(actor, CasePerm.INTAKE):
        return
    if can_view(actor, call):
        raise Forbidden("hotline.not_your_call", Msg("只有接听该来电的坐席可以处理", "Only the agent on this call can work it"))
    raise NotFound("hotline.call_not_found")


def _check_open(call: Call) -> None:
    if call.ended_at is not None:
        raise Conflict("hotline.call_ended", Msg("该来电已结束", "This call has ended"))


def _lock(call: Call) -> Call:
    return Call.objects.select_for_update().select_related("region").get(pk=call.pk)


def home_region(actor: Any) -> Region:
    """Where a new call is filed: the widest region of the agent's case.intake scope (the root for superusers)."""
    paths = actor.scope_paths(CasePerm.INTAKE)
    qs = Region.objects.order_by("depth", "path")
    if paths is not None:
        qs = qs.filter(path__in=paths)
    region = qs.first()
    if region is None:
        raise Forbidden("permission.denied", Msg("没有受理热线的权限（{perm}）", "You may not take hotline calls ({perm})"),
                        perm=str(CasePerm.INTAKE))
    return region


def normalise_caller(raw: str) -> str:
    """E.164 of a caller number; empty for a withheld number (未显示号码)."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        return normalise_phone(raw)
    except Invalid as exc:
        raise Invalid("hotline.caller_invalid", Msg("来电号码格式错误", "The caller number is not a valid phone number"),
                      detail={"reason": exc.code}) from exc


def caller_index(e164: str) -> str:
    """Same blind index as Person.phone_index, so a call finds the persons registered with that number."""
    return pii.blind_index(e164, purpose="phone") if e164 else ""


def mask_caller(e164: str) -> str:
    return pii.mask_phone(e164.removeprefix("+86")) if e164 else ""


def _audit(actor: Any, action: str, call: Call, *, before: dict | None = None, detail: dict | None = None) -> None:
    record(actor=actor, action=action, obj=call, before=before, after=snapshot(call, AUDIT_FIELDS), detail=detail,
           region_path=call.region.path)


# ---- calls --------------------------------------------------------------------------------------------


def _agent_for(actor: Any, agent: Any) -> Any:
    """The agent the call is filed for: the actor, or — for a CTI service account holding hotline.cti —
    the active account it names, which must hold case.intake."""
    if agent is None or agent.pk == getattr(actor, "pk", None):
        check_perm_anywhere(actor, CasePerm.INTAKE)
        return actor
    check_perm_anywhere(actor, HotlinePerm.CTI)
    if not agent.is_active or not covers_any(agent, CasePerm.INTAKE):
        raise Invalid("hotline.agent_invalid", Msg("该账号不是在岗的热线坐席", "This account is not an active hotline agent"))
    return agent


@transaction.atomic
def call_incoming(*, actor: Any, caller: str, external_id: str = "", direction: str = Direction.INBOUND, agent: Any = None,
                  now: dt.datetime | None = None) -> Call:
    """Open a call for the agent: ``actor`` itself (softphone with the agent's token, or the agent typing
    the number) or ``agent`` when a CTI service account reports it. ``external_id`` — the CTI's call
    id — makes the event idempotent: the same id again returns the first call (a CTI retries)."""
    agent = _agent_for(actor, agent)
    if direction not in Direction.values:
        raise Invalid("hotline.direction_invalid", Msg("呼叫方向无效", "Unknown call direction"), detail={"allowed": list(Direction.values)})
    external_id = (external_id or "").strip()
    if len(external_id) > 64:
        raise Invalid("hotline.external_id_invalid", Msg("呼叫编号过长", "The call id is too long"))
    if external_id:
        existing = Call.objects.select_related("region").filter(external_id=external_id).first()
        if existing is not None:
            if existing.agent_id != agent.pk:
                raise Conflict("hotline.external_id_taken", Msg("该呼叫编号已由其他坐席登记", "Another agent already logged this call id"))
            return existing
    e164 = normalise_caller(caller)
    now = now or timezone.now()
    call = Call(caller=e164, caller_index=caller_index(e164), caller_masked=mask_caller(e164), external_id=external_id,
                agent=agent, region=home_region(agent), direction=direction, started_at=now)
    try:
        with transaction.atomic():
            call.save()
    except IntegrityError as exc:  # the same CTI id raced in twice
        raise Conflict("hotline.external_id_taken", Msg("该呼叫编号已登记", "This call id is already logged")) from exc
    _audit(actor, "hotline.call_incoming", call, detail={"caller": call.caller_masked, "agent": agent.pk})
    return call


def _answered(call: Call, now: dt.datetime) -> None:
    if call.answered_at is None:
        call.answered_at = max(now, call.started_at)


@transaction.atomic
def call_link_person(*, actor: Any, call: Call, person: Person | None) -> Call:
    """Record which of the persons registered with the number is on the line (or nobody). Until a case
    is opened the call is then filed under the caller's grid (when inside the agent's area), so the
    supervisors of that area see it."""
    call = _lock(call)
    check_handle(actor, call)
    _check_open(call)
    if person is not None and (not call.caller_index or person.phone_index != call.caller_index):
        raise Invalid("hotline.person_not_caller", Msg("该人员登记的电话与来电号码不符", "This person is not registered with the caller's number"))
    before = snapshot(call, AUDIT_FIELDS)
    call.person = person
    if call.case_id is None:  # a case's grid wins; otherwise the caller's grid, or back to the agent's area
        region = Region.objects.get(pk=person.region_id) if person is not None else home_region(call.agent)
        if region.path.startswith(home_region(call.agent).path):
            call.region = region
    call.save(update_fields=["person", "region", "updated_at"])
    _audit(actor, "hotline.call_link_person", call, before=before)
    return call


@transaction.atomic
def call_answer_from_kb(*, actor: Any, call: Call, article: Article, now: dt.datetime | None = None) -> CallArticle:
    """用此答复: record that the caller was answered with ``article`` (once per article and call)."""
    call = _lock(call)
    check_handle(actor, call)
    _check_open(call)
    if article.status != ArticleStatus.PUBLISHED:
        raise Invalid("hotline.article_not_published", Msg("只能引用已发布的知识文章", "Only published articles can be used"))
    now = now or timezone.now()
    use, created = CallArticle.objects.get_or_create(call=call, article=article,
                                                     defaults={"article_version": article.version, "used_at": now})
    if created:
        before = snapshot(call, AUDIT_FIELDS)
        _answered(call, now)
        call.save(update_fields=["answered_at", "updated_at"])
        _audit(actor, "hotline.call_answer_from_kb", call, before=before, detail={"article_id": article.pk, "version": article.version})
    return use


def _house_point(house: House) -> tuple[float | None, float | None]:
    building = house.building
    if building.lat is not None and building.lng is not None:
        return building.lat, building.lng
    estate = building.estate
    return estate.lat, estate.lng


def duplicate_candidates(*, actor: Any, category: Category, lat: float | None, lng: float | None) -> list[tuple[Case, float]]:
    """Open cases of the same category near the point that the agent may see (as the case intake offers)."""
    return case_selectors.duplicates_near(actor=actor, category_id=category.pk, lat=lat, lng=lng)


def duplicate_check(*, actor: Any, category: Category, house: House | None = None, lat: float | None = None,
                    lng: float | None = None) -> None:
    """409 ``hotline.possible_duplicates`` (candidates in ``detail``) when the case may already exist."""
    if house is not None and lat is None and lng is None:
        lat, lng = _house_point(house)
    found = duplicate_candidates(actor=actor, category=category, lat=lat, lng=lng)
    if found:
        raise Conflict("hotline.possible_duplicates", Msg("附近已有同类未办结事件，可能是同一问题", "Open cases of this category nearby may be the same problem"),
                       detail={"candidates": [{"id": c.pk, "number": c.number, "title": c.title, "status": c.status,
                                               "status_label": c.get_status_display(), "distance_m": round(d, 1)} for c, d in found]})


@transaction.atomic
def call_open_case(
    *,
    actor: Any,
    call: Call,
    category: Category,
    title: str,
    description: str = "",
    house: House | None = None,
    lat: float | None = None,
    lng: float | None = None,
    region: Region | None = None,
    address: str = "",
    photos: Sequence[str] = (),
    person: Person | None = None,
    confirm_new: bool = False,
    now: dt.datetime | None = None,
) -> Case:
    """One form → one hotline case: reporter = the matched person, contact = the caller's number,
    location = the chosen house (its building's point) or a map point. Open cases of the same
    category nearby stop the form (409 ``hotline.possible_duplicates`` with the candidates) until
    the agent confirms it is a new problem."""
    call = _lock(call)
    check_handle(actor, call)
    _check_open(call)
    if call.case_id is not None:
        raise Conflict("hotline.case_exists", Msg("该来电已登记工单", "A case was already opened for this call"), detail={"case_id": call.case_id})
    reporter = person or call.person
    if person is not None and (not call.caller_index or person.phone_index != call.caller_index):
        raise Invalid("hotline.person_not_caller", Msg("该人员登记的电话与来电号码不符", "This person is not registered with the caller's number"))
    if house is not None and lat is None and lng is None:
        lat, lng = _house_point(house)
    if not confirm_new:
        duplicate_check(actor=actor, category=category, lat=lat, lng=lng)
    now = now or timezone.now()
    case = case_services.case_report(
        actor=actor, channel=Channel.HOTLINE, category=category, title=title, description=description, lat=lat, lng=lng, house=house,
        address=address, photos=photos, reporter_person=reporter, reporter_contact=call.caller, region=region,
        external_ref=f"call-{call.pk}", now=now,
    )
    before = snapshot(call, AUDIT_FIELDS)
    call.case, call.region = case, case.region
    if reporter is not None and call.person_id is None:
        call.person = reporter
    _answered(call, now)
    call.save(update_fields=["case", "region", "person", "answered_at", "updated_at"])
    _audit(actor, "hotline.call_open_case", call, before=before, detail={"case": case.number})
    return case


@transaction.atomic
def call_end(*, actor: Any, call: Call, outcome: str, notes: str = "", category: str = "", now: dt.datetime | None = None) -> Call:
    """Hang up with an outcome (and notes, the caller's request type). The outcome must match what
    happened: 'case opened' needs the case, 'answered from the knowledge base' an article."""
    call = _lock(call)
    check_handle(actor, call)
    _check_open(call)
    if outcome not in Outcome.values:
        raise Invalid("hotline.outcome_invalid", Msg("请选择处理结果", "Choose an outcome"), detail={"allowed": list(Outcome.values)})
    if category and category not in CallCategory.values:
        raise Invalid("hotline.category_invalid", Msg("诉求类型无效", "Unknown request type"), detail={"allowed": list(CallCategory.values)})
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise Invalid("hotline.notes_too_long", Msg("通话记录最多{n}字", "Notes are limited to {n} characters"), n=MAX_NOTES)
    if outcome == Outcome.CASE_OPENED and call.case_id is None:
        raise Invalid("hotline.outcome_needs_case", Msg("尚未登记工单，不能以“已立案转办”结束", "No case was opened for this call"))
    if outcome == Outcome.KB_ANSWER and not call.article_uses.exists():
        raise Invalid("hotline.outcome_needs_article", Msg("尚未引用知识文章，不能以“知识库答复”结束", "No knowledge article was used on this call"))
    if outcome in (Outcome.TRANSFERRED, Outcome.OTHER) and not notes:
        raise Invalid("hotline.notes_required", Msg("请填写通话记录（转接去向或处理情况）", "Notes are required for this outcome"))
    now = max(now or timezone.now(), call.started_at)
    before = snapshot(call, AUDIT_FIELDS)
    if outcome != Outcome.ABANDONED:
        _answered(call, now)
    call.ended_at, call.outcome, call.notes, call.category = now, outcome, notes, category
    call.save(update_fields=["answered_at", "ended_at", "outcome", "notes", "category", "updated_at"])
    _audit(actor, "hotline.call_end", call, before=before, detail={"outcome": outcome})
    return call


@transaction.atomic
def call_reveal_caller(*, actor: Any, call: Call, purpose: str) -> str:
    """The unmasked caller number (to call back) for holders of person.reveal over the call's region; audited."""
    purpose = (purpose or "").strip()
    if len(purpose) < 2:
        raise Invalid("hotline.reveal_purpose_required", Msg("请填写查看用途", "State the purpose of this disclosure"))
    if not covers(actor, "person.reveal", call.region.path):
        if can_view(actor, call):
            raise Forbidden("hotline.reveal_forbidden", Msg("没有查看完整号码的权限", "You may not see the full number"))
        raise NotFound("hotline.call_not_found")
    record_read(actor=actor, action="hotline.reveal_caller", obj=call, fields=["caller"], purpose=purpose[:200], region_path=call.region.path)
    return call.caller or ""


# ---- callbacks: 回拨 and 回访 ------------------------------------------------------------------------------


def check_callback(actor: Any, call: Call) -> None:
    """Any hotline agent (case.intake) who may see the call calls back; a supervisor who only reads
    call records gets 403, anyone who may not see it 404."""
    if not can_view(actor, call):
        raise NotFound("hotline.call_not_found")
    if not covers_any(actor, CasePerm.INTAKE):
        raise Forbidden("permission.denied", Msg("没有回拨来电的权限（{perm}）", "You may not call callers back ({perm})"),
                        perm=str(CasePerm.INTAKE))


def callback_original(call: Call) -> Call:
    """The incoming call a callback belongs to: the call itself, or the one a callback was made for."""
    if call.callback_of_id is None:
        return call
    return Call.objects.select_related("region", "case").get(pk=call.callback_of_id)


def check_callback_possible(call: Call) -> None:
    """409 while the call is still open or when the caller withheld the number."""
    if call.is_open:
        raise Conflict("hotline.call_open", Msg("该来电尚未结束，结束后才能回拨", "End the call before calling back"))
    if not call.caller_index:
        raise Conflict("hotline.caller_withheld", Msg("来电未显示号码，无法回拨", "The caller withheld the number: no callback possible"))


def check_follow_up(call: Call) -> Case:
    """回访 is for a case opened from the call and closed since."""
    case = call.case
    if case is None:
        raise Conflict("hotline.follow_up_needs_case", Msg("该来电未登记工单，无需回访", "No case was opened from this call"))
    if case.status != CaseStatus.CLOSED:
        raise Conflict("hotline.case_not_closed", Msg("工单结案后才能回访", "Follow up once the case is closed"),
                       detail={"status": case.status})
    return case


def _follow_up_timeline(*, actor: Any, case: Case, result: str, score: int | None, notes: str) -> None:
    """The follow-up on the case timeline through the cases services: a satisfaction rating (C4, staff
    recording it needs case.close) when the resident gave a score, otherwise a comment saying how it went."""
    if score is not None:
        case_services.case_rate(actor=actor, case=case, score=score, comment=notes)
        return
    text = f"电话回访：{CallbackResult(result).label}"
    case_services.case_comment(actor=actor, case=case, note=f"{text}。{notes}" if notes else text)


@transaction.atomic
def call_callback(*, actor: Any, call: Call, result: str, notes: str = "", follow_up: bool = False, score: int | None = None,
                  now: dt.datetime | None = None) -> Call:
    """Record a call back to the caller of ``call`` (回拨) — an outgoing call row linked to the original
    incoming call and its case, with how it went. ``follow_up`` makes it the satisfaction follow-up (回访)
    of the closed case: a rating (``score`` 1–5) or a comment on the case timeline. The number is copied
    encrypted from the original call and never written to the audit trail."""
    call = _lock(call)
    check_callback(actor, call)
    original = callback_original(call)
    check_callback_possible(original)
    if result not in CallbackResult.values:
        raise Invalid("hotline.callback_result_invalid", Msg("请选择回拨结果", "Choose how the callback went"),
                      detail={"allowed": list(CallbackResult.values)})
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise Invalid("hotline.notes_too_long", Msg("通话记录最多{n}字", "Notes are limited to {n} characters"), n=MAX_NOTES)
    if score is not None and not follow_up:
        raise Invalid("hotline.score_needs_follow_up", Msg("满意度只在回访时记录", "A satisfaction score is recorded on a follow-up only"))
    if score is not None and result != CallbackResult.CONNECTED:
        raise Invalid("hotline.score_needs_connection", Msg("未接通，不能记录满意度", "No score without reaching the caller"))
    case = check_follow_up(original) if follow_up else original.case
    now = max(now or timezone.now(), original.started_at)
    callback = Call(
        caller=original.caller, caller_index=original.caller_index, caller_masked=original.caller_masked, agent=actor,
        region=original.region, direction=Direction.OUTBOUND, started_at=now, answered_at=now if result in REACHED else None,
        ended_at=now, person_id=original.person_id, case=case, notes=notes, callback_of=original, callback_result=result,
    )
    callback.save()
    if follow_up:
        _follow_up_timeline(actor=actor, case=case, result=result, score=score, notes=notes)
    _audit(actor, "hotline.callback", callback, detail={"of": original.pk, "result": result, "follow_up": follow_up,
                                                        **({"case": case.number} if case is not None else {})})
    return callback


__all__ = [
    "call_incoming", "call_link_person", "call_answer_from_kb", "call_open_case", "call_end", "call_reveal_caller", "call_callback",
    "duplicate_candidates", "duplicate_check", "can_view", "check_handle", "check_callback", "check_callback_possible",
    "check_follow_up", "callback_original", "normalise_caller", "caller_index", "mask_caller",
]
