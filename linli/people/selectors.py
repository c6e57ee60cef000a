"""Reads for people (H1–H3, H6). Every function takes the actor and only returns what its scope allows.

Other parts (console, portal, bench) call exactly these names. Lists return QuerySets that the
caller paginates (keyset on -id); rows carry what the presenters need (region, ``has_special``) so a
page costs a constant number of queries.
"""

from __future__ import annotations

from typing import Any, TypedDict, Unpack

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from linli.audit.services import record
from linli.core import pii
from linli.core.errors import Forbidden, Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.core.validators import IdType, normalise_id_number, normalise_phone
from linli.orgs.perms import Perm
from linli.places.models import House, Region

from .checks import has_perm_anywhere, has_perm_at, in_scope, scope_region_ids, subtree_ids
from .models import Consent, Household, Person, Relation, Residency, SpecialGroup, SpecialGroupTag

_ID_TYPES_FOR_LOOKUP = (IdType.RESIDENT_ID, IdType.HK_MACAO_PERMIT, IdType.TAIWAN_PERMIT, IdType.FOREIGN_PERMANENT, IdType.PASSPORT)


def _special_exists(person_ref: str = "pk") -> Exists:
    return Exists(SpecialGroupTag.objects.filter(person_id=OuterRef(person_ref)))


def _with_presentation(qs: QuerySet, actor: Any) -> QuerySet:
    """select_related region, flag special-group members and prefetch tags for actors allowed to see them."""
    qs = qs.select_related("region").defer("region__boundary").annotate(has_special=_special_exists())
    if has_perm_anywhere(actor, Perm.SPECIAL_GROUP_VIEW):
        qs = qs.prefetch_related(Prefetch("special_tags", queryset=SpecialGroupTag.objects.order_by("group")))
    return qs


def persons_scoped(actor: Any, perm: str = Perm.PERSON_VIEW) -> QuerySet:
    return in_scope(Person.objects.all(), actor, perm, "region")


def _id_lookup_indexes(raw: str) -> list[str]:
    """Blind indexes for an ID number typed without its type: a valid resident ID, else any other format."""
    value = (raw or "").strip()
    if not value:
        raise Invalid("person.id_number_format", Msg("请输入证件号码", "Enter an ID number"))
    indexes: list[str] = []
    first_error: Invalid | None = None
    for id_type in _ID_TYPES_FOR_LOOKUP:
        try:
            number = normalise_id_number(id_type, value)
        except Invalid as exc:
            first_error = first_error or exc
            continue
        if id_type == IdType.RESIDENT_ID:
            return [pii.blind_index(number, purpose="id_number")]
        indexes.append(pii.blind_index(number, purpose="id_number"))
    if not indexes:
        raise first_error  # type: ignore[misc]
    return list(dict.fromkeys(indexes))


class PersonFilters(TypedDict, total=False):
    """What a person search may be narrowed by (H1); every filter is optional."""

    q: str | None
    id_number: str | None
    phone: str | None
    region_id: int | None
    house_id: int | None
    group: str | None


def person_search(*, actor: Any, **filters: Unpack[PersonFilters]) -> QuerySet:
    """Persons the actor may view (PERSON_VIEW), filtered. ID number / phone are exact (blind index)."""
    qs, region_ids = _person_query(actor=actor, **filters)
    return qs if region_ids is None else qs.filter(region_id__in=region_ids)


def person_page(
    *, actor: Any, cursor: str | None = None, limit: int | None = None, **filters: Unpack[PersonFilters]
) -> tuple[list[Person], str | None]:
    """One cursor page of person_search, read per region on the (region, id) index (see paginate)."""
    qs, region_ids = _person_query(actor=actor, **filters)
    if region_ids is None:
        return paginate(qs, cursor=cursor, limit=limit)
    if filters.get("id_number") or filters.get("phone"):  # exact lookups (blind index) are already selective
        return paginate(qs.filter(region_id__in=region_ids), cursor=cursor, limit=limit)
    # A scoped list reads per region on the (region, id) index; the partition is the scope restriction.
    return paginate(qs, cursor=cursor, limit=limit, partition=("region_id", region_ids))


def _person_query(
    *,
    actor: Any,
    q: str | None = None,
    id_number: str | None = None,
    phone: str | None = None,
    region_id: int | None = None,
    house_id: int | None = None,
    group: str | None = None,
) -> tuple[QuerySet, list[int] | None]:
    """The filtered, presentation-ready person query and the region ids the caller restricts it to."""
    region_ids = scope_region_ids(actor, Perm.PERSON_VIEW, within=region_id)
    if group:
        if group not in SpecialGroup.values:
            raise Invalid("person.special_group_unknown", Msg("特殊人群类别无效", "Unknown special group"))
        if not has_perm_anywhere(actor, Perm.SPECIAL_GROUP_VIEW):
            raise Forbidden("person.special_group_forbidden", Msg("无权查看特殊人群", "You may not see special groups"))
        special_ids = scope_region_ids(actor, Perm.SPECIAL_GROUP_VIEW, within=region_id)
        if special_ids is not None:
            region_ids = special_ids if region_ids is None else sorted(set(region_ids) & set(special_ids))
    qs = Person.objects.all()  # the scope (region_ids) is applied by the caller: person_search / person_page
    if id_number:
        qs = qs.filter(id_number_index__in=_id_lookup_indexes(id_number))
    if phone:
        qs = qs.filter(phone_index=pii.blind_index(normalise_phone(phone), purpose="phone"))
    if q and q.strip():
        term = q.strip()[:60]
        cond = Q(name__contains=term)
        tail = term.upper()
        if len(tail) == 4 and tail[:3].isdigit() and (tail[3].isdigit() or tail[3] == "X"):
            cond |= Q(id_number_tail=tail) | Q(phone_tail=tail)
        qs = qs.filter(cond)
    if house_id is not None:
        qs = qs.filter(Exists(Residency.objects.filter(person_id=OuterRef("pk"), house_id=house_id, move_out__isnull=True)))
    if group:
        qs = qs.filter(Exists(SpecialGroupTag.objects.filter(person_id=OuterRef("pk"), group=group)))
    return _with_presentation(qs, actor), region_ids


def person_get(*, actor: Any, person_id: int) -> Person:
    person = _with_presentation(persons_scoped(actor).filter(pk=person_id), actor).first()
    if person is None:
        raise NotFound("person.not_found")
    return person


def person_tags(*, actor: Any, person: Person) -> list[SpecialGroupTag]:
    """Special-group tags of ``person``: empty unless the actor holds SPECIAL_GROUP_VIEW over that person."""
    if not has_perm_at(actor, Perm.SPECIAL_GROUP_VIEW, person.region.path):
        return []
    cache = getattr(person, "_prefetched_objects_cache", {})
    if "special_tags" in cache:
        return list(cache["special_tags"])
    return list(person.special_tags.order_by("group"))


def can_see_special(actor: Any, person: Person) -> bool:
    return has_perm_at(actor, Perm.SPECIAL_GROUP_VIEW, person.region.path)


def special_tag_get(*, actor: Any, tag_id: int) -> SpecialGroupTag:
    tag = in_scope(SpecialGroupTag.objects.all(), actor, Perm.SPECIAL_GROUP_VIEW, "person__region").select_related(
        "person__region").filter(pk=tag_id).first()
    if tag is None:
        raise NotFound("person.special_tag_not_found")
    return tag


def special_group_list(*, actor: Any, group: str | None = None, region_id: int | None = None) -> QuerySet:
    """Special-group tags in scope (H3), person and region joined. Viewing the list is audited (kind=read)."""
    if not has_perm_anywhere(actor, Perm.SPECIAL_GROUP_VIEW):
        raise Forbidden("person.special_group_forbidden", Msg("无权查看特殊人群", "You may not see special groups"))
    if group and group not in SpecialGroup.values:
        raise Invalid("person.special_group_unknown", Msg("特殊人群类别无效", "Unknown special group"))
    qs = in_scope(SpecialGroupTag.objects.all(), actor, Perm.SPECIAL_GROUP_VIEW, "person__region")
    if group:
        qs = qs.filter(group=group)
    if region_id is not None:
        qs = qs.filter(person__region_id__in=subtree_ids(region_id))
    record(actor=actor, action="person.special_group_list", kind="read", object_type="people.specialgrouptag",
           detail={"group": group or "", "region_id": region_id})
    return qs.select_related("person__region")


def _visible_house(actor: Any, house_id: int) -> House:
    house = in_scope(House.objects.all(), actor, Perm.PERSON_VIEW, "region").select_related("region").filter(pk=house_id).first()
    if house is None:
        raise NotFound("house.not_found")
    return house


def house_get(*, actor: Any, house_id: int) -> House:
    """A house as seen from the people side (PERSON_VIEW over its grid) — for move-in and households."""
    return _visible_house(actor, house_id)


def _residency_rows(qs: QuerySet) -> QuerySet:
    return qs.select_related("person__region", "house", "household").annotate(person_has_special=_special_exists("person_id"))


def residencies_for_house(*, actor: Any, house_id: int, current_only: bool = True) -> QuerySet:
    house = _visible_house(actor, house_id)
    qs = Residency.objects.filter(house=house)
    if current_only:
        qs = qs.filter(move_out__isnull=True)
    return _residency_rows(qs)


def residencies_for_person(*, actor: Any, person_id: int, current_only: bool = False) -> QuerySet:
    """The whole move-in/move-out history of a person the actor may view."""
    person = person_get(actor=actor, person_id=person_id)
    qs = Residency.objects.filter(person=person)
    if current_only:
        qs = qs.filter(move_out__isnull=True)
    return _residency_rows(qs)


def residency_get(*, actor: Any, residency_id: int) -> Residency:
    r = _residency_rows(in_scope(Residency.objects.all(), actor, Perm.PERSON_VIEW, "house__region")).select_related(
        "house__region").filter(pk=residency_id).first()
    if r is None:
        raise NotFound("residency.not_found")
    return r


def households_for_house(*, actor: Any, house_id: int) -> QuerySet:
    house = _visible_house(actor, house_id)
    return (
        Household.objects.filter(house=house)
        .select_related("head__region", "house")
        .annotate(head_has_special=_special_exists("head_id"),
                  member_count=Count("residencies", filter=Q(residencies__move_out__isnull=True), distinct=True))
    )


def household_get(*, actor: Any, household_id: int) -> Household:
    hh = in_scope(Household.objects.all(), actor, Perm.PERSON_VIEW, "house__region").select_related("house__region").filter(
        pk=household_id).first()
    if hh is None:
        raise NotFound("household.not_found")
    return hh


def actual_population(*, actor: Any, region_id: int) -> dict[str, Any]:
    """实住人口 under a region: distinct persons with a current, actually-lived residency in its houses."""
    region = Region.objects.filter(pk=region_id).first()
    if region is None or not has_perm_at(actor, Perm.PERSON_VIEW, region.path):
        raise NotFound("region.not_found")
    current = Residency.objects.filter(move_out__isnull=True, house__region_id__in=subtree_ids(region.pk))
    actual = current.filter(is_actual=True)
    by_relation = {rel: 0 for rel in Relation.values}
    for row in actual.values("relation").annotate(n=Count("person_id", distinct=True)).order_by():
        by_relation[row["relation"]] = row["n"]
    totals = current.aggregate(
        actual=Count("person_id", distinct=True, filter=Q(is_actual=True)),
        registered=Count("person_id", distinct=True),
        houses=Count("house_id", distinct=True, filter=Q(is_actual=True)),
    )
    return {
        "region_id": region.pk,
        "region_name": region.name,
        "actual": totals["actual"],
        "registered_current": totals["registered"],
        "not_living": totals["registered"] - totals["actual"],
        "occupied_houses": totals["houses"],
        "by_relation": by_relation,
    }


def consents_for_person(*, actor: Any, person_id: int) -> QuerySet:
    person = person_get(actor=actor, person_id=person_id)
    return Consent.objects.filter(person=person)


# ---- resident's own data (portal) -----------------------------------------------------------


def my_person(account: Any) -> Person | None:
    person_id = my_person_id(account)
    if person_id is None:
        return None
    return Person.objects.select_related("region").filter(pk=person_id).first()


def my_residencies(account: Any) -> QuerySet:
    if my_person_id(account) is None:
        return Residency.objects.none()
    return Residency.objects.filter(person_id=account.person_id).select_related("house", "household").order_by("-move_in", "-id")


def my_consents(account: Any) -> QuerySet:
    if my_person_id(account) is None:
        return Consent.objects.none()
    return Consent.objects.filter(person_id=account.person_id).order_by("purpose", "-granted_at")


def my_person_id(account: Any) -> int | None:
    if account is None or not getattr(account, "is_authenticated", False) or not getattr(account, "is_active", False):
        return None
    return getattr(account, "person_id", None)

