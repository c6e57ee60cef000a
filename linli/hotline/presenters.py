"""How calls and caller matches are shown (API and console): numbers, names and ID numbers masked;
plaintext only through ``services.call_reveal_caller`` / the people reveal, both audited."""

from __future__ import annotations

from typing import Any

from linli.core.pii import mask_id_number, mask_name, mask_phone
from linli.people.presenters import age_on

from .models import Call, CallArticle
from .selectors import CallerMatch, Lookup


def call_out(call: Call) -> dict[str, Any]:
    return {
        "id": call.pk, "caller_masked": call.caller_masked, "external_id": call.external_id, "direction": call.direction,
        "agent_id": call.agent_id, "agent_name": call.agent.display_name or call.agent.username,
        "region_id": call.region_id, "region_name": call.region.name,
        "started_at": call.started_at, "answered_at": call.answered_at, "ended_at": call.ended_at,
        "outcome": call.outcome, "outcome_label": call.get_outcome_display() if call.outcome else "",
        "category": call.category, "person_id": call.person_id,
        "person_name_masked": mask_name(call.person.name) if call.person_id else "",
        "case_id": call.case_id, "case_number": call.case.number if call.case_id else "", "notes": call.notes,
        "direction_label": call.get_direction_display(), "callback_of_id": call.callback_of_id,
        "callback_result": call.callback_result,
        "callback_result_label": call.get_callback_result_display() if call.callback_result else "",
    }


def article_use_out(use: CallArticle) -> dict[str, Any]:
    return {"article_id": use.article_id, "title": use.article.title, "version": use.article_version, "used_at": use.used_at}


def match_out(m: CallerMatch) -> dict[str, Any]:
    p = m.person
    return {
        "person_id": p.pk, "name_masked": mask_name(p.name), "gender": p.get_gender_display(), "age": age_on(p.birth_date),
        "phone_masked": mask_phone(p.phone), "id_number_masked": mask_id_number(p.id_number), "region_name": p.region.name,
        "homes": [{"house_id": r.house_id, "address": r.house.address, "relation": r.get_relation_display(), "region_name": r.house.region.name}
                  for r in m.homes],
        "cases": [{"id": c.pk, "number": c.number, "title": c.title, "status": c.status, "status_label": c.get_status_display(),
                   "category": c.category.name, "created_at": c.created_at} for c in m.cases],
    }


def lookup_out(lookup: Lookup) -> dict[str, Any]:
    return {"matches": [match_out(m) for m in lookup.matches], "more": lookup.more,
            "previous_calls": [call_out(c) for c in lookup.previous_calls]}
