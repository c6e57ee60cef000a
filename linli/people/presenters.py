"""How people data is shown (API, console): ID numbers and phones ALWAYS masked; plaintext only through
``services.person_reveal``. Names are shown in full to staff who may view the person, except that
names of special-group members are masked for actors who may not see special groups (H3).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from linli.core.pii import mask_id_number, mask_name, mask_phone

from .models import ETHNICITIES, Consent, Household, Person, Residency, SpecialGroupTag
from .selectors import can_see_special, person_tags

_ETHNICITY = dict(ETHNICITIES)


def _has_special(person: Person, hint: bool | None = None) -> bool:
    if hint is not None:
        return bool(hint)
    flag = getattr(person, "has_special", None)
    if flag is not None:
        return bool(flag)
    return person.special_tags.exists()


def display_name(person: Person, *, actor: Any, has_special: bool | None = None) -> str:
    """Full name, or masked (张*华) for special-group members when the actor may not see special groups."""
    if can_see_special(actor, person) or not _has_special(person, has_special):
        return person.name
    return mask_name(person.name)


def age_on(birth: dt.date | None, today: dt.date | None = None) -> int | None:
    if birth is None:
        return None
    today = today or dt.date.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def tag_out(tag: SpecialGroupTag) -> dict[str, Any]:
    return {
        "id": tag.pk, "person_id": tag.person_id, "group": tag.group, "group_label": tag.get_group_display(),
        "since": tag.since, "until": tag.until, "level": tag.level, "note": tag.note,
    }


def person_out(person: Person, *, actor: Any) -> dict[str, Any]:
    return {
        "id": person.pk,
        "name": display_name(person, actor=actor),
        "gender": person.gender,
        "birth_date": person.birth_date,
        "age": age_on(person.birth_date),
        "id_type": person.id_type,
        "id_number_masked": mask_id_number(person.id_number),
        "phone_masked": mask_phone(person.phone),
        "ethnicity": person.ethnicity,
        "ethnicity_label": _ETHNICITY.get(person.ethnicity, ""),
        "hukou_place": person.hukou_place,
        "hukou_region_code": person.hukou_region_code,
        "nationality": person.nationality,
        "occupation": person.occupation,
        "employer": person.employer,
        "education": person.education,
        "political_status": person.political_status,
        "marital_status": person.marital_status,
        "region_id": person.region_id,
        "region_name": person.region.name,
        "is_deceased": person.is_deceased,
        "note": person.note,
        "special_tags": [tag_out(t) for t in person_tags(actor=actor, person=person)],
        "created_at": person.created_at,
        "updated_at": person.updated_at,
    }


def person_brief(person: Person, *, actor: Any, has_special: bool | None = None) -> dict[str, Any]:
    return {
        "id": person.pk,
        "name": display_name(person, actor=actor, has_special=has_special),
        "gender": person.gender,
        "age": age_on(person.birth_date),
        "id_number_masked": mask_id_number(person.id_number),
        "phone_masked": mask_phone(person.phone),
    }


def residency_out(r: Residency, *, actor: Any) -> dict[str, Any]:
    return {
        "id": r.pk,
        "person": person_brief(r.person, actor=actor, has_special=getattr(r, "person_has_special", None)),
        "house_id": r.house_id,
        "house_address": r.house.address,
        "household_id": r.household_id,
        "relation": r.relation,
        "relation_label": r.get_relation_display(),
        "relation_to_head": r.relation_to_head,
        "move_in": r.move_in,
        "move_out": r.move_out,
        "move_out_reason": r.move_out_reason,
        "is_actual": r.is_actual,
        "is_current": r.move_out is None,
        "lease_end": r.lease_end,
    }


def household_out(hh: Household, *, actor: Any) -> dict[str, Any]:
    head = hh.head
    return {
        "id": hh.pk,
        "house_id": hh.house_id,
        "name": hh.name if head is None else hh.name.replace(head.name, display_name(head, actor=actor, has_special=getattr(hh, "head_has_special", None))),
        "head": None if head is None else person_brief(head, actor=actor, has_special=getattr(hh, "head_has_special", None)),
        "member_count": getattr(hh, "member_count", None),
        "is_active": hh.is_active,
    }


def consent_out(c: Consent) -> dict[str, Any]:
    return {
        "id": c.pk, "person_id": c.person_id, "purpose": c.purpose, "purpose_label": c.get_purpose_display(),
        "granted_at": c.granted_at, "withdrawn_at": c.withdrawn_at, "is_active": c.withdrawn_at is None,
        "text_version": c.text_version, "channel": c.channel,
    }


def special_member_out(tag: SpecialGroupTag, *, actor: Any) -> dict[str, Any]:
    """Row of a special-group list: the tag plus the person (the actor holds SPECIAL_GROUP_VIEW here)."""
    return {**tag_out(tag), "person": person_brief(tag.person, actor=actor, has_special=True), "region_id": tag.person.region_id,
            "region_name": tag.person.region.name}
