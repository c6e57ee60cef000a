"""Reads of the service hotline (L1). A call is visible to the agent who took it and to holders of
hotline.view over its region; anything else is a 404.

``caller_lookup`` is the left column of the agent screen: persons registered with the caller's
number (blind index, inside the agent's person.view scope), their current homes, the cases they
reported and earlier calls from the same number. Every lookup that reveals a person writes a read
entry to the audit trail (one per person shown).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from linli.audit.services import record_read
from linli.cases.models import Case
from linli.cases.selectors import visible_q
from linli.core.errors import Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.scoping import scope_q
from linli.knowledge import selectors as kb
from linli.knowledge.models import Article
from linli.people.models import Person, Residency

from .models import Call, CallArticle, Direction, Outcome
from .perms import HotlinePerm

MAX_MATCHES = 5  # more persons than this on one number: show the first few, the agent asks the caller
RECENT_CASES = 10
RECENT_CALLS = 5


def _authenticated(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", False)


def calls_for_actor(actor: Any) -> QuerySet[Call]:
    if not _authenticated(actor):
        return Call.objects.none()
    q = scope_q(Call, actor.scope_paths(HotlinePerm.VIEW))
    return Call.objects.all() if q is None else Call.objects.filter(q | Q(agent_id=actor.pk))


def _list_related(qs: QuerySet[Call]) -> QuerySet[Call]:
    return qs.select_related("agent", "region", "case", "person").defer("region__boundary")


def call_list(*, actor: Any, date_from: dt.date | None = None, date_to: dt.date | None = None, agent_id: int | None = None,
              outcome: str | None = None, is_open: bool | None = None, direction: str | None = None) -> QuerySet[Call]:
    """Calls in scope, newest first, filtered by local start date range, agent, outcome and direction."""
    if outcome and outcome not in Outcome.values:
        raise Invalid("hotline.outcome_invalid", Msg("处理结果无效", "Unknown outcome"), detail={"allowed": list(Outcome.values)})
    if direction and direction not in Direction.values:
        raise Invalid("hotline.direction_invalid", Msg("呼叫方向无效", "Unknown call direction"), detail={"allowed": list(Direction.values)})
    if date_from and date_to and date_to < date_from:
        raise Invalid("hotline.date_range_invalid", Msg("结束日期不能早于开始日期", "The end date is before the start date"))
    qs = calls_for_actor(actor)
    if date_from:
        qs = qs.filter(started_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(started_at__date__lte=date_to)
    if agent_id:
        qs = qs.filter(agent_id=agent_id)
    if outcome:
        qs = qs.filter(outcome=outcome)
    if is_open is not None:
        qs = qs.filter(ended_at__isnull=is_open)
    if direction:
        qs = qs.filter(direction=direction)
    return _list_related(qs)


def call_agents(*, actor: Any, limit: int = 200) -> list[Any]:
    """Agents who took calls the actor may see (the call records' agent filter)."""
    from linli.orgs.models import Account

    agent_ids = calls_for_actor(actor).order_by().values("agent_id")
    return list(Account.objects.filter(pk__in=agent_ids).only("id", "username", "display_name").order_by("username")[:limit])


def call_get(*, actor: Any, call_id: int) -> Call:
    call = _list_related(calls_for_actor(actor)).filter(pk=call_id).first()
    if call is None:
        raise NotFound("hotline.call_not_found", Msg("来电记录不存在或不在您的管辖范围内", "Call not found or outside your scope"))
    return call


def case_call(*, actor: Any, case_id: int) -> Call:
    """The incoming call a hotline case was opened from, when the actor may see that call (else 404)."""
    call = _list_related(calls_for_actor(actor)).filter(case_id=case_id, callback_of__isnull=True).first()
    if call is None:
        raise NotFound("hotline.call_not_found", Msg("该工单没有您可查看的热线来电", "No hotline call of this case in your scope"))
    return call


def call_callbacks(*, actor: Any, call: Call, limit: int = 20) -> list[Call]:
    """The callbacks of an incoming call the actor may see, newest first (a short list on the call page)."""
    return list(_list_related(calls_for_actor(actor).filter(callback_of_id=call.callback_of_id or call.pk)).order_by("-id")[:limit])


def agent_by_username(username: str) -> Any:
    from linli.orgs.models import Account

    agent = Account.objects.filter(username=username, is_active=True).first()
    if agent is None:
        raise NotFound("hotline.agent_not_found", Msg("坐席账号不存在", "No such agent account"))
    return agent


def call_articles(*, call: Call) -> list[CallArticle]:
    return list(CallArticle.objects.filter(call=call).select_related("article").order_by("used_at", "id"))


def my_open_calls(*, actor: Any, limit: int = 5) -> list[Call]:
    if not _authenticated(actor):
        return []
    return list(Call.objects.filter(agent_id=actor.pk, ended_at__isnull=True).order_by("-id")[:limit])


def article_for_call(*, actor: Any, article_id: int) -> Article:
    return kb.article_get(actor=actor, article_id=article_id)


def knowledge_search(*, actor: Any, q: str, limit: int = 6) -> list[Article]:
    q = (q or "").strip()[:100]
    return kb.article_search(actor=actor, q=q, limit=limit) if q else []


# ---- caller lookup ------------------------------------------------------------------------------------


@dataclass
class CallerMatch:
    person: Person
    homes: list[Residency] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)


@dataclass
class Lookup:
    matches: list[CallerMatch]
    more: bool  # more persons share the number than are shown
    previous_calls: list[Call]


def caller_lookup(*, actor: Any, call: Call) -> Lookup:
    """Who is calling: persons registered with the number, their homes and case history (audited)."""
    if not call.caller_index:
        return Lookup(matches=[], more=False, previous_calls=[])
    persons = list(
        Person.objects.for_actor(actor, "person.view").filter(phone_index=call.caller_index, is_deceased=False)
        .select_related("region").defer("region__boundary").order_by("id")
        .prefetch_related(Prefetch("residencies", queryset=Residency.objects.filter(move_out__isnull=True)
                                   .select_related("house", "house__region").defer("house__region__boundary").order_by("id"),
                                   to_attr="current_homes"))[:MAX_MATCHES + 1]
    )
    more = len(persons) > MAX_MATCHES
    persons = persons[:MAX_MATCHES]
    cases_by_person: dict[int, list[Case]] = {p.pk: [] for p in persons}
    if persons:
        cq = visible_q(actor)
        cases = Case.objects.filter(reporter_person_id__in=list(cases_by_person)).select_related("category").order_by("-id")
        cases = cases if cq is None else cases.filter(cq)
        for c in cases[: RECENT_CASES * len(persons)]:
            bucket = cases_by_person[c.reporter_person_id]
            if len(bucket) < RECENT_CASES:
                bucket.append(c)
    for p in persons:
        record_read(actor=actor, action="hotline.caller_lookup", obj=p, fields=["name", "phone", "residency", "cases"],
                    purpose=f"热线来电#{call.pk}", region_path=p.region.path)
    previous = list(_list_related(calls_for_actor(actor).filter(caller_index=call.caller_index).exclude(pk=call.pk))
                    .order_by("-id")[:RECENT_CALLS])
    return Lookup(
        matches=[CallerMatch(person=p, homes=p.current_homes, cases=cases_by_person[p.pk]) for p in persons],
        more=more, previous_calls=previous,
    )


def caller_houses(lookup: Lookup) -> list[Any]:
    """Distinct current homes of the matched persons (for the case form's house picker)."""
    seen: dict[int, Any] = {}
    for m in lookup.matches:
        for r in m.homes:
            seen.setdefault(r.house_id, r.house)
    return list(seen.values())
