"""Reads for the resident portal: only the signed-in resident's own person, homes and household.

Everything starts from ``account.person_id`` (people.selectors.my_*); nothing here takes an id from
the request, so a resident can never reach another person's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from linli.core.pii import mask_id_number, mask_name, mask_phone
from linli.people import selectors as people
from linli.people.models import Relation, Residency

FAMILY = {Relation.OWNER, Relation.FAMILY_MEMBER}


@dataclass(frozen=True)
class Member:
    name: str
    relation: str
    is_me: bool
    same_household: bool
    id_number_masked: str
    phone_masked: str


@dataclass(frozen=True)
class Home:
    residency: Residency
    members: list[Member]


def _same_household(mine: Residency, other: Residency) -> bool:
    if mine.household_id is not None or other.household_id is not None:
        return mine.household_id == other.household_id
    return mine.relation in FAMILY and other.relation in FAMILY


def my_homes(account: Any) -> list[Home]:
    """My current residencies, each with the people currently living in that house.

    Members of my own household are shown by full name; other occupants of the house (e.g. other
    tenants of a shared flat) by masked name. ID numbers and phones are always masked.
    """
    mine = list(people.my_residencies(account).filter(move_out__isnull=True))
    if not mine:
        return []
    others = (
        Residency.objects.filter(house_id__in=[r.house_id for r in mine], move_out__isnull=True)
        .select_related("person").order_by("house_id", "move_in", "id")
    )
    by_house: dict[int, list[Residency]] = {}
    for r in others:
        by_house.setdefault(r.house_id, []).append(r)
    homes = []
    for r in mine:
        members = []
        for o in by_house.get(r.house_id, []):
            me = o.person_id == account.person_id
            family = me or _same_household(r, o)
            members.append(Member(
                name=o.person.name if family else mask_name(o.person.name), relation=o.get_relation_display(), is_me=me,
                same_household=family, id_number_masked=mask_id_number(o.person.id_number), phone_masked=mask_phone(o.person.phone),
            ))
        homes.append(Home(residency=r, members=members))
    return homes
