"""/api/v1/hotline — the service hotline (L1).

``POST /calls`` is the screen-pop event of a CTI / softphone integration: it authenticates with the
agent's API token (``Authorization: Bearer …``, an account holding case.intake), opens the call and
answers with the masked caller match. The other routes are the agent's actions on the call, the
callbacks (回拨 / 回访 of a closed case, from the call or from the hotline case) and the supervisors'
call records (hotline.view)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from ninja import Router
from ninja import Status as Http

from linli.cases import selectors as case_sel
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page
from linli.orgs.perms import check_perm_anywhere

from . import presenters as pr
from . import selectors as sel
from . import services as svc
from .perms import HotlinePerm
from .schemas import (
    AnswerIn,
    ArticleUseOut,
    CallbackIn,
    CallDetailOut,
    CallIncomingIn,
    CallOut,
    EndIn,
    LinkPersonIn,
    LookupOut,
    OpenCaseIn,
    OpenCaseOut,
    RevealIn,
    RevealOut,
    ScreenPopOut,
)

router = Router()


def _detail(actor, call_id: int) -> dict[str, Any]:
    call = sel.call_get(actor=actor, call_id=call_id)
    return {**pr.call_out(call), "articles": [pr.article_use_out(u) for u in sel.call_articles(call=call)]}


@router.post("/calls", response={201: ScreenPopOut, **ERRORS}, summary="话务系统：来电弹屏（登记来电并匹配来电人）")
def call_incoming(request, payload: CallIncomingIn):
    actor = request.auth
    agent = None
    if payload.agent and payload.agent != actor.username:
        check_perm_anywhere(actor, HotlinePerm.CTI)  # before any account lookup: no probing of user names
        agent = sel.agent_by_username(payload.agent)
    call = svc.call_incoming(actor=actor, caller=payload.caller, external_id=payload.external_id, direction=payload.direction,
                             agent=agent)
    # The caller match is for the agent on the line; a CTI service account only learns where to pop the screen.
    match = pr.lookup_out(sel.caller_lookup(actor=actor, call=call)) if call.agent_id == actor.pk else None
    return Http(201, {**pr.call_out(call), "articles": [pr.article_use_out(u) for u in sel.call_articles(call=call)], "caller_match": match,
                      "screen_url": reverse("console:hotline_call", args=[call.pk])})


@router.get("/calls", response={200: Page[CallOut], **ERRORS}, summary="来电记录（按日期、坐席、处理结果、来电/去电筛选）")
def list_calls(request, date_from: dt.date | None = None, date_to: dt.date | None = None, agent_id: int | None = None,
               outcome: str | None = None, is_open: bool | None = None, direction: str | None = None, cursor: str | None = None,
               limit: int | None = None):
    qs = sel.call_list(actor=request.auth, date_from=date_from, date_to=date_to, agent_id=agent_id, outcome=outcome, is_open=is_open,
                       direction=direction)
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit)
    return {"items": [pr.call_out(c) for c in rows], "next_cursor": next_cursor}


@router.get("/calls/{int:call_id}", response={200: CallDetailOut, **ERRORS}, summary="来电详情")
def get_call(request, call_id: int):
    return _detail(request.auth, call_id)


@router.get("/calls/{int:call_id}/caller", response={200: LookupOut, **ERRORS}, summary="来电人匹配（脱敏，查询留痕）")
def caller_match(request, call_id: int):
    call = sel.call_get(actor=request.auth, call_id=call_id)
    return pr.lookup_out(sel.caller_lookup(actor=request.auth, call=call))


@router.post("/calls/{int:call_id}/person", response={200: CallDetailOut, **ERRORS}, summary="确认来电人")
def link_person(request, call_id: int, payload: LinkPersonIn):
    actor = request.auth
    call = sel.call_get(actor=actor, call_id=call_id)
    svc.call_link_person(actor=actor, call=call, person=case_sel.ref_person(actor, payload.person_id))
    return _detail(actor, call_id)


@router.post("/calls/{int:call_id}/answer", response={200: ArticleUseOut, **ERRORS}, summary="用知识库文章答复")
def answer_from_kb(request, call_id: int, payload: AnswerIn):
    actor = request.auth
    call = sel.call_get(actor=actor, call_id=call_id)
    use = svc.call_answer_from_kb(actor=actor, call=call, article=sel.article_for_call(actor=actor, article_id=payload.article_id))
    return pr.article_use_out(use)


@router.post("/calls/{int:call_id}/case", response={201: OpenCaseOut, **ERRORS},
             summary="一表登记工单（附近有同类未办结事件时返回 409 与疑似重复列表，确认后再提交）")
def open_case(request, call_id: int, payload: OpenCaseIn):
    actor = request.auth
    call = sel.call_get(actor=actor, call_id=call_id)
    case = svc.call_open_case(
        actor=actor, call=call, category=case_sel.category_get(category_id=payload.category_id), title=payload.title,
        description=payload.description, house=case_sel.ref_house(payload.house_id), lat=payload.lat, lng=payload.lng,
        region=case_sel.ref_region(payload.region_id), address=payload.address, photos=payload.photos,
        person=case_sel.ref_person(actor, payload.person_id), confirm_new=payload.confirm_new,
    )
    return Http(201, {"call": pr.call_out(sel.call_get(actor=actor, call_id=call_id)), "case": case_sel.case_get(actor=actor, case_id=case.pk)})


@router.post("/calls/{int:call_id}/end", response={200: CallDetailOut, **ERRORS}, summary="结束来电并记录处理结果")
def end_call(request, call_id: int, payload: EndIn):
    actor = request.auth
    call = sel.call_get(actor=actor, call_id=call_id)
    svc.call_end(actor=actor, call=call, outcome=payload.outcome, notes=payload.notes, category=payload.category)
    return _detail(actor, call_id)


@router.post("/calls/{int:call_id}/reveal", response={200: RevealOut, **ERRORS}, summary="查看完整来电号码（回拨，留痕）")
def reveal_caller(request, call_id: int, payload: RevealIn):
    actor = request.auth
    call = sel.call_get(actor=actor, call_id=call_id)
    return {"caller": svc.call_reveal_caller(actor=actor, call=call, purpose=payload.purpose)}


def _callback(actor, call, payload: CallbackIn):
    callback = svc.call_callback(actor=actor, call=call, result=payload.result, notes=payload.notes, follow_up=payload.follow_up,
                                 score=payload.score)
    return Http(201, _detail(actor, callback.pk))


@router.post("/calls/{int:call_id}/callback", response={201: CallDetailOut, **ERRORS},
             summary="回拨/回访：记录给来电人的去电（回访记入已结案工单时间线）")
def call_back(request, call_id: int, payload: CallbackIn):
    return _callback(request.auth, sel.call_get(actor=request.auth, call_id=call_id), payload)


@router.post("/cases/{int:case_id}/callback", response={201: CallDetailOut, **ERRORS},
             summary="从热线工单回拨/回访来电人（工单须来自您可查看的热线来电）")
def case_call_back(request, case_id: int, payload: CallbackIn):
    return _callback(request.auth, sel.case_call(actor=request.auth, case_id=case_id), payload)
