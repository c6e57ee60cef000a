"""/api/v1/cases — categories, routing table, cases (report, lists, inboxes, detail), every workflow
transition as POST /cases/{id}/<action>, duplicates and merge, ratings, notifications."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Query, Router
from ninja import Status as Http

from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page

from . import selectors as sel
from . import services as svc
from .models import Case, Channel, Status
from .schemas import (
    CalendarYearIn,
    CalendarYearOut,
    CaseDetailOut,
    CaseOut,
    CategoryOut,
    CoHandleIn,
    CountOut,
    DispatchIn,
    DuplicateOut,
    EventOut,
    LeagueRowOut,
    MarkReadIn,
    MergeIn,
    NoteIn,
    NotificationOut,
    RateIn,
    RatingOut,
    ReassignIn,
    ReportIn,
    ReportOut,
    RoutingRuleIn,
    RoutingRuleOut,
    RoutingRulePatch,
    TransferIn,
)

router = Router()


def _page(qs, cursor: str | None, limit: int | None, order: str = "-id") -> dict[str, Any]:
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, order=order)
    return {"items": rows, "next_cursor": next_cursor}


def _detail(actor, case: Case) -> Case:
    case = sel.case_get(actor=actor, case_id=case.pk)
    case.timeline = sel.case_timeline(case=case)
    case.co_handling_orgs = [{"id": c.organisation_id, "name": c.organisation.name} for c in sel.case_co_handlers(case=case)]
    return case


def _dupes(found) -> list[dict[str, Any]]:
    return [{"id": c.pk, "number": c.number, "title": c.title, "status": c.status, "distance_m": round(d, 1), "created_at": c.created_at}
            for c, d in found]


# ---- categories and routing table (C2) -----------------------------------------------------------------


@router.get("/categories", response={200: Page[CategoryOut], **ERRORS}, summary="事件分类")
def list_categories(request, cursor: str | None = None, limit: int | None = 200):
    return _page(sel.category_list(), cursor, limit, order="id")


def _calendar_year(year: int) -> dict[str, Any]:
    info = sel.calendar_year(year=year)
    return {**info, "fallback": "" if info["confirmed"] else svc.CALENDAR_FALLBACK}


@router.get("/calendar/{int:year}", response={200: CalendarYearOut, **ERRORS}, summary="工作日历（节假日与调休）")
def get_calendar_year(request, year: int):
    sel.check_calendar_view(request.auth)
    return _calendar_year(year)


@router.put("/calendar/{int:year}", response={200: CalendarYearOut, **ERRORS}, summary="录入/替换某年节假日与调休")
def set_calendar_year(request, year: int, payload: CalendarYearIn):
    svc.calendar_year_set(actor=request.auth, year=year, days=[d.dict() for d in payload.days], confirmed=payload.confirmed,
                          source=payload.source)
    return _calendar_year(year)


@router.get("/routing-rules", response={200: Page[RoutingRuleOut], **ERRORS}, summary="派单规则列表")
def list_routing_rules(request, region_id: int | None = None, category_id: int | None = None, cursor: str | None = None,
                       limit: int | None = None):
    return _page(sel.routing_rule_list(actor=request.auth, region_id=region_id, category_id=category_id), cursor, limit)


@router.post("/routing-rules", response={201: RoutingRuleOut, **ERRORS}, summary="新建派单规则")
def create_routing_rule(request, payload: RoutingRuleIn):
    rule = svc.routing_rule_create(
        actor=request.auth, region=sel.ref_region(payload.region_id), organisation=sel.ref_organisation(payload.organisation_id),
        category=sel.category_get(category_id=payload.category_id) if payload.category_id else None,
        time_limit_hours=payload.time_limit_hours, priority=payload.priority or "", note=payload.note, is_active=payload.is_active,
    )
    return Http(201, rule)


@router.get("/routing-rules/{int:rule_id}", response={200: RoutingRuleOut, **ERRORS}, summary="派单规则详情")
def get_routing_rule(request, rule_id: int):
    return sel.routing_rule_get(actor=request.auth, rule_id=rule_id)


@router.patch("/routing-rules/{int:rule_id}", response={200: RoutingRuleOut, **ERRORS}, summary="修改派单规则")
def update_routing_rule(request, rule_id: int, payload: RoutingRulePatch):
    rule = sel.routing_rule_get(actor=request.auth, rule_id=rule_id)
    data = payload.dict(exclude_unset=True)
    changes: dict[str, Any] = {}
    if "region_id" in data:
        changes["region"] = sel.ref_region(data.pop("region_id"))
    if "organisation_id" in data:
        changes["organisation"] = sel.ref_organisation(data.pop("organisation_id"))
    if "category_id" in data:
        cid = data.pop("category_id")
        changes["category"] = sel.category_get(category_id=cid) if cid else None
    changes.update(data)
    return svc.routing_rule_update(actor=request.auth, rule=rule, **changes)


@router.delete("/routing-rules/{int:rule_id}", response={204: None, **ERRORS}, summary="删除派单规则")
def delete_routing_rule(request, rule_id: int):
    svc.routing_rule_delete(actor=request.auth, rule=sel.routing_rule_get(actor=request.auth, rule_id=rule_id))
    return Http(204, None)


# ---- notifications ---------------------------------------------------------------------------------------


@router.get("/notifications", response={200: Page[NotificationOut], **ERRORS}, summary="我的通知")
def list_notifications(request, unread: bool | None = None, cursor: str | None = None, limit: int | None = None):
    return _page(sel.notification_list(actor=request.auth, unread=unread), cursor, limit)


@router.post("/notifications/read", response={200: CountOut, **ERRORS}, summary="标记通知已读")
def mark_notifications_read(request, payload: MarkReadIn):
    return {"count": svc.notifications_mark_read(actor=request.auth, ids=payload.ids)}


# ---- league tables (C4) ------------------------------------------------------------------------------------


@router.get("/stats/league", response={200: list[LeagueRowOut], **ERRORS}, summary="考核排行（按月：按时率、重开率、满意度）")
def league(request, month: str = Query(..., pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
           by: str = Query("org", pattern="^(org|grid)$"), org_type: str | None = None):
    year, mon = (int(x) for x in month.split("-"))
    return sel.league_table(actor=request.auth, month=dt.date(year, mon, 1), by=by, org_type=org_type)


# ---- cases (C1) ----------------------------------------------------------------------------------------------


@router.get("", response={200: Page[CaseOut], **ERRORS}, summary="事件列表")
def list_cases(request, status: str | None = None, category_id: int | None = None, region_id: int | None = None,
               overdue: bool | None = None, assigned: str | None = Query(None, pattern="^(me|org|none)$"), channel: Channel | None = None,
               q: str | None = Query(None, max_length=60), cursor: str | None = None, limit: int | None = None):
    if status and any(s not in Status.values for s in status.split(",")):
        from linli.core.errors import Invalid
        from linli.core.i18n import Msg

        raise Invalid("case.status_invalid", Msg("未知的状态", "Unknown status"), detail={"allowed": Status.values})
    qs = sel.case_list(actor=request.auth, status=status, category_id=category_id, region_id=region_id, overdue=overdue,
                       assigned=assigned, channel=channel, q=q)
    return _page(qs, cursor, limit)


@router.get("/inbox/{box}", response={200: Page[CaseOut], **ERRORS}, summary="待办（我的/本单位/辖区/超时）")
def inbox(request, box: str, cursor: str | None = None, limit: int | None = None):
    return _page(sel.case_inbox(actor=request.auth, box=box), cursor, limit)


@router.post("", response={201: ReportOut, **ERRORS}, summary="上报事件")
def report_case(request, payload: ReportIn):
    actor = request.auth
    case = svc.case_report(
        actor=actor, channel=payload.channel, category=sel.category_get(category_id=payload.category_id), title=payload.title,
        description=payload.description, lat=payload.lat, lng=payload.lng, house=sel.ref_house(payload.house_id),
        address=payload.address, photos=payload.photos, reporter_person=sel.ref_person(actor, payload.reporter_person_id),
        reporter_contact=payload.reporter_contact, region=sel.ref_region(payload.region_id),
    )
    # The reply shows what the actor just filed and where it was routed; duplicates only if visible.
    case.duplicate_candidates = _dupes(sel.case_duplicates(actor=actor, case=case))
    return Http(201, case)


@router.get("/{int:case_id}", response={200: CaseDetailOut, **ERRORS}, summary="事件详情与时间线")
def get_case(request, case_id: int):
    return _detail(request.auth, sel.case_get(actor=request.auth, case_id=case_id))


@router.get("/{int:case_id}/duplicates", response={200: list[DuplicateOut], **ERRORS}, summary="疑似重复事件")
def case_duplicates(request, case_id: int, radius_m: float | None = Query(None, gt=0, le=5000), hours: float | None = Query(None, gt=0, le=24 * 30)):
    case = sel.case_get(actor=request.auth, case_id=case_id)
    return _dupes(sel.case_duplicates(actor=request.auth, case=case, radius_m=radius_m, hours=hours))


# ---- workflow (C3, L3): one POST per action ----------------------------------------------------------------


def _act(request, case_id: int, fn, **kw) -> Case:
    case = sel.case_get(actor=request.auth, case_id=case_id)
    result = fn(actor=request.auth, case=case, **kw)
    return _detail(request.auth, result if isinstance(result, Case) else case)


@router.post("/{int:case_id}/accept", response={200: CaseDetailOut, **ERRORS}, summary="受理")
def accept(request, case_id: int, payload: NoteIn):
    return _act(request, case_id, svc.case_accept, note=payload.note)


@router.post("/{int:case_id}/dispatch", response={200: CaseDetailOut, **ERRORS}, summary="派单")
def dispatch(request, case_id: int, payload: DispatchIn):
    return _act(request, case_id, svc.case_dispatch, to=sel.ref_organisation(payload.organisation_id),
                account=sel.ref_account(payload.account_id), note=payload.note, photos=payload.photos)


@router.post("/{int:case_id}/start", response={200: CaseDetailOut, **ERRORS}, summary="开始处置")
def start(request, case_id: int, payload: NoteIn):
    return _act(request, case_id, svc.case_start, note=payload.note, photos=payload.photos)


@router.post("/{int:case_id}/resolve", response={200: CaseDetailOut, **ERRORS}, summary="办结")
def resolve(request, case_id: int, payload: NoteIn):
    return _act(request, case_id, svc.case_resolve, note=payload.note, photos=payload.photos)


@router.post("/{int:case_id}/verify", response={200: CaseDetailOut, **ERRORS}, summary="核查通过")
def verify(request, case_id: int, payload: NoteIn):
    return _act(request, case_id, svc.case_verify, note=payload.note, photos=payload.photos)


@router.post("/{int:case_id}/close", response={200: CaseDetailOut, **ERRORS}, summary="结案")
def close(request, case_id: int, payload: NoteIn):
    return _act(request, case_id, svc.case_close, note=payload.note)


@router.post("/{int:case_id}/return", response={200: CaseDetailOut, **ERRORS}, summary="退回上一环节")
def return_case(request, case_id: int, payload: NoteIn):
    return _act(request, case_id, svc.case_return, note=payload.note, photos=payload.photos)


@router.post("/{int:case_id}/reassign", response={200: CaseDetailOut, **ERRORS}, summary="改派")
def reassign(request, case_id: int, payload: ReassignIn):
    return _act(request, case_id, svc.case_reassign, to=sel.ref_organisation(payload.organisation_id),
                account=sel.ref_account(payload.account_id), note=payload.note)


@router.post("/{int:case_id}/transfer", response={200: CaseDetailOut, **ERRORS}, summary="转办")
def transfer(request, case_id: int, payload: TransferIn):
    return _act(request, case_id, svc.case_transfer, to=sel.ref_organisation(payload.organisation_id), note=payload.note)


@router.post("/{int:case_id}/co-handle", response={200: CaseDetailOut, **ERRORS}, summary="增加协办单位")
def co_handle(request, case_id: int, payload: CoHandleIn):
    orgs = [sel.ref_organisation(i) for i in payload.organisation_ids]
    return _act(request, case_id, svc.case_co_handle, organisations=orgs, note=payload.note)


@router.post("/{int:case_id}/comments", response={201: EventOut, **ERRORS}, summary="留言（可附照片）")
def comment(request, case_id: int, payload: NoteIn):
    case = sel.case_get(actor=request.auth, case_id=case_id)
    return Http(201, svc.case_comment(actor=request.auth, case=case, note=payload.note, photos=payload.photos))


@router.post("/{int:case_id}/escalate", response={200: CaseDetailOut, **ERRORS}, summary="督办升级")
def escalate(request, case_id: int, payload: NoteIn):
    return _act(request, case_id, svc.case_escalate, note=payload.note)


@router.post("/{int:case_id}/merge", response={200: CaseDetailOut, **ERRORS}, summary="合并到另一工单")
def merge(request, case_id: int, payload: MergeIn):
    into = sel.ref_case(request.auth, payload.into_id)
    return _act(request, case_id, svc.case_merge, into=into, note=payload.note)


@router.post("/{int:case_id}/reopen", response={200: CaseDetailOut, **ERRORS}, summary="重开（结案后期限内）")
def reopen(request, case_id: int, payload: NoteIn):
    return _act(request, case_id, svc.case_reopen, note=payload.note)


@router.post("/{int:case_id}/rate", response={201: RatingOut, **ERRORS}, summary="满意度评价")
def rate(request, case_id: int, payload: RateIn):
    case = sel.case_get(actor=request.auth, case_id=case_id)
    return Http(201, svc.case_rate(actor=request.auth, case=case, score=payload.score, comment=payload.comment))
