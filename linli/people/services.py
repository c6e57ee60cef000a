"""Writes for people (H1 registry, H2 households and residency, H3 special groups, H6 consents).

Every function is keyword-only, atomic, checks permission and scope first, validates, and writes
one audit entry with before/after snapshots. ID numbers and phones are never written to the audit
trail in clear (snapshots exclude them and the blind indexes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from linli.audit.services import record, record_read, snapshot
from linli.core import pii
from linli.core.errors import Conflict, Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.validators import IdType, normalise_id_number, normalise_phone, parse_resident_id
from linli.orgs.perms import Perm
from linli.places.models import House, Level, Region

from .checks import check_perm_at, has_perm_at
from .models import (
    ETHNICITIES,
    Consent,
    ConsentPurpose,
    Gender,
    Household,
    Person,
    Relation,
    Residency,
    SpecialGroup,
    SpecialGroupTag,
)

PERSON_REGION_LEVELS = (Level.COMMUNITY, Level.GRID)
REVEALABLE = ("id_number", "phone")
_SECRET_FIELDS = {"id_number_index", "phone_index", "id_number", "phone"}
PERSON_AUDIT_FIELDS = [f.name for f in Person._meta.concrete_fields if f.name not in _SECRET_FIELDS] + ["id_number", "phone"]
PERSON_EDITABLE = {
    "name", "gender", "birth_date", "id_type", "id_number", "phone", "ethnicity", "hukou_place", "hukou_region_code",
    "nationality", "occupation", "employer", "education", "political_status", "marital_status", "region",
    "is_deceased", "note",
}
_ETHNICITY_CODES = {code for code, _ in ETHNICITIES}


def _person_snapshot(p: Person) -> dict[str, Any]:
    return snapshot(p, PERSON_AUDIT_FIELDS)  # id_number / phone keys are redacted to "***"


# ---- H1: person registry --------------------------------------------------------------------


def _identity(id_type: str, id_number: str, gender: str | None, birth_date: dt.date | None) -> tuple[str, str, dt.date | None]:
    """Validate the document number; for resident IDs derive birth date and gender and reject contradictions."""
    number = normalise_id_number(id_type, id_number)
    if id_type != IdType.RESIDENT_ID:
        return number, gender or Gender.UNKNOWN, birth_date
    _, birth, derived_gender = parse_resident_id(number)
    if gender not in (None, "", Gender.UNKNOWN) and gender != derived_gender:
        raise Invalid("person.gender_mismatch", Msg("性别与身份证号不一致", "Gender contradicts the resident ID number"),
                      detail={"from_id_number": derived_gender})
    if birth_date is not None and birth_date != birth:
        raise Invalid("person.birth_date_mismatch", Msg("出生日期与身份证号不一致", "Birth date contradicts the resident ID number"),
                      detail={"from_id_number": birth.isoformat()})
    return number, derived_gender, birth


def _check_duplicate(actor: Any, index: str, *, exclude_pk: int | None = None) -> None:
    existing = Person.objects.filter(id_number_index=index).exclude(pk=exclude_pk).select_related("region").first()
    if existing is None:
        return
    detail = {"person_id": existing.pk} if has_perm_at(actor, Perm.PERSON_VIEW, existing.region.path) else {}
    raise Conflict("person.duplicate_id_number", Msg("该证件号码已登记", "A person with this ID number already exists"), detail=detail)


def _set_phone(p: Person, phone: str) -> None:
    e164 = normalise_phone(phone) if phone else ""
    p.phone = e164
    p.phone_index = pii.blind_index(e164, purpose="phone") if e164 else ""
    p.phone_tail = e164[-4:] if e164 else ""


def _check_region(actor: Any, region: Region) -> None:
    check_perm_at(actor, Perm.PERSON_EDIT, region.path, visible_via=(Perm.PERSON_VIEW,), code="person.edit_forbidden")
    if region.level not in PERSON_REGION_LEVELS:
        raise Invalid("person.region_level", Msg("人员须归属社区或网格", "A person must be managed under a community or grid"))


def _validate_simple(p: Person) -> None:
    if not (p.name or "").strip():
        raise Invalid("person.name_required", Msg("姓名不能为空", "Name is required"))
    p.name = p.name.strip()
    if p.ethnicity not in _ETHNICITY_CODES:
        raise Invalid("person.ethnicity", Msg("民族代码无效", "Unknown ethnicity code"), detail={"ethnicity": p.ethnicity})
    if p.gender not in Gender.values:
        raise Invalid("person.gender", Msg("性别无效", "Unknown gender"))
    if p.birth_date and p.birth_date > timezone.localdate():
        raise Invalid("person.birth_date_future", Msg("出生日期不能晚于今天", "Birth date cannot be in the future"))
    p.full_clean(exclude=["id_number", "phone", "id_number_index", "region"], validate_unique=False)


@transaction.atomic
def person_create(
    *,
    actor: Any,
    name: str,
    id_type: str,
    id_number: str,
    region: Region,
    phone: str = "",
    gender: str | None = None,
    birth_date: dt.date | None = None,
    ethnicity: str = "01",
    hukou_place: str = "",
    hukou_region_code: str = "",
    nationality: str = "CHN",
    occupation: str = "",
    employer: str = "",
    education: str = "",
    political_status: str = "",
    marital_status: str = "",
    note: str = "",
) -> Person:
    """Register a person (H1): validated document, derived birth/gender, encrypted ID and phone."""
    _check_region(actor, region)
    number, gender_, birth = _identity(id_type, id_number, gender, birth_date)
    index = pii.blind_index(number, purpose="id_number")
    _check_duplicate(actor, index)
    p = Person(
        name=name, gender=gender_, birth_date=birth, id_type=id_type, id_number=number, id_number_index=index,
        id_number_tail=number[-4:], ethnicity=ethnicity, hukou_place=hukou_place, hukou_region_code=hukou_region_code,
        nationality=nationality, occupation=occupation, employer=employer, education=education,
        political_status=political_status, marital_status=marital_status, region=region, note=note,
    )
    _set_phone(p, phone)
    _validate_simple(p)
    try:
        with transaction.atomic():
            p.save()
    except IntegrityError:  # a concurrent registration of the same number won the race
        _check_duplicate(actor, index)
        raise
    record(actor=actor, action="person.create", obj=p, after=_person_snapshot(p), region_path=region.path)
    return p


@transaction.atomic
def person_update(*, actor: Any, person: Person, **changes: Any) -> Person:
    """Change registry fields (PATCH semantics). Re-validates and re-indexes ID number and phone."""
    unknown = set(changes) - PERSON_EDITABLE
    if unknown:
        raise Invalid("person.unknown_field", Msg("不可修改的字段", "These fields cannot be changed"), detail={"fields": sorted(unknown)})
    person = Person.objects.select_for_update().select_related("region").get(pk=person.pk)
    check_perm_at(actor, Perm.PERSON_EDIT, person.region.path, code="person.edit_forbidden")
    before = _person_snapshot(person)
    if "region" in changes and changes["region"].pk != person.region_id:
        _check_region(actor, changes["region"])
    if {"id_type", "id_number", "gender", "birth_date"} & set(changes):
        id_type = changes.get("id_type", person.id_type)
        raw = changes.get("id_number", person.id_number)
        explicit_gender = changes.get("gender") if "gender" in changes else (None if id_type == IdType.RESIDENT_ID else person.gender)
        explicit_birth = changes.get("birth_date") if "birth_date" in changes else (None if id_type == IdType.RESIDENT_ID else person.birth_date)
        number, gender_, birth = _identity(id_type, raw, explicit_gender, explicit_birth)
        index = pii.blind_index(number, purpose="id_number")
        if index != person.id_number_index:
            _check_duplicate(actor, index, exclude_pk=person.pk)
        person.id_type, person.id_number, person.id_number_index, person.id_number_tail = id_type, number, index, number[-4:]
        person.gender, person.birth_date = gender_, birth
    if "phone" in changes:
        _set_phone(person, changes["phone"] or "")
    for field in PERSON_EDITABLE - {"id_type", "id_number", "gender", "birth_date", "phone"}:
        if field in changes:
            setattr(person, field, changes[field])
    _validate_simple(person)
    person.save()
    after = _person_snapshot(person)
    record(actor=actor, action="person.update", obj=person, before=before, after=after, region_path=person.region.path,
           detail={"changed": sorted(k for k in after if before.get(k) != after.get(k)) or sorted(changes)})
    return person


@transaction.atomic
def person_reveal(*, actor: Any, person: Person, fields: list[str], purpose: str) -> dict[str, str]:
    """Return unmasked ID number / phone for a stated purpose; needs PERSON_REVEAL and is audited (kind=read)."""
    wanted = list(dict.fromkeys(fields))
    if not wanted or any(f not in REVEALABLE for f in wanted):
        raise Invalid("person.reveal_fields", Msg("只能查看证件号码或电话", "Only id_number and phone can be revealed"),
                      detail={"allowed": list(REVEALABLE)})
    purpose = (purpose or "").strip()
    if len(purpose) < 2:
        raise Invalid("person.reveal_purpose_required", Msg("请填写查看用途", "State the purpose of this disclosure"))
    path = Region.objects.filter(pk=person.region_id).values_list("path", flat=True).first() or ""
    check_perm_at(actor, Perm.PERSON_REVEAL, path, code="person.reveal_forbidden")
    record_read(actor=actor, action="person.reveal", obj=person, fields=wanted, purpose=purpose[:200], region_path=path)
    return {f: getattr(person, f) or "" for f in wanted}


# ---- H2: households and residency -----------------------------------------------------------


def _house_for_edit(actor: Any, house: House) -> None:
    check_perm_at(actor, Perm.HOUSEHOLD_EDIT, house.region.path, visible_via=(Perm.PERSON_VIEW, Perm.PLACE_VIEW),
                  code="household.edit_forbidden")


def _visible_person(actor: Any, person: Person) -> None:
    if not has_perm_at(actor, Perm.PERSON_VIEW, person.region.path):
        raise NotFound("person.not_found")


@transaction.atomic
def household_create(*, actor: Any, house: House, head: Person | None = None, name: str = "") -> Household:
    """Open a household (户) in a house; the head, if given, must be a person the actor can see."""
    _house_for_edit(actor, house)
    if head is not None:
        _visible_person(actor, head)
    hh = Household(house=house, head=head, name=(name or "").strip() or (f"{head.name}户" if head else ""))
    hh.full_clean()
    hh.save()
    record(actor=actor, action="household.create", obj=hh, after=snapshot(hh), region_path=house.region.path)
    return hh


def _check_dates(move_in: dt.date, lease_end: dt.date | None, relation: str) -> None:
    if relation not in Relation.values:
        raise Invalid("residency.relation", Msg("居住关系无效", "Unknown relation"), detail={"allowed": list(Relation.values)})
    if move_in > timezone.localdate() + dt.timedelta(days=366):
        raise Invalid("residency.move_in_far_future", Msg("入住日期过远", "Move-in date is too far in the future"))
    if lease_end is not None and lease_end < move_in:
        raise Invalid("residency.lease_end_before_move_in", Msg("租期截止不能早于入住日期", "Lease end cannot be before move-in"))


@transaction.atomic
def residency_move_in(
    *,
    actor: Any,
    person: Person,
    house: House,
    relation: str,
    move_in: dt.date,
    household: Household | None = None,
    is_actual: bool = True,
    lease_end: dt.date | None = None,
    relation_to_head: str = "",
) -> Residency:
    """Record that ``person`` lives in (or belongs to) ``house`` from ``move_in`` (H2)."""
    _house_for_edit(actor, house)
    _visible_person(actor, person)
    _check_dates(move_in, lease_end, relation)
    if household is not None and household.house_id != house.pk:
        raise Invalid("residency.household_house_mismatch", Msg("该户不属于此房屋", "The household belongs to another house"))
    if Residency.objects.filter(person=person, house=house, move_out__isnull=True).exists():
        raise Conflict("residency.already_current", Msg("此人已登记居住在该房屋", "This person already lives in this house"))
    r = Residency(person=person, house=house, household=household, relation=relation, relation_to_head=relation_to_head,
                  move_in=move_in, is_actual=is_actual, lease_end=lease_end)
    try:
        with transaction.atomic():
            r.save()
    except IntegrityError as exc:
        raise Conflict("residency.already_current", Msg("此人已登记居住在该房屋", "This person already lives in this house")) from exc
    record(actor=actor, action="residency.move_in", obj=r, after=snapshot(r), region_path=house.region.path)
    return r


def _locked_residency(residency: Residency) -> Residency:
    return Residency.objects.select_for_update().select_related("house__region").get(pk=residency.pk)


@transaction.atomic
def residency_move_out(*, actor: Any, residency: Residency, move_out: dt.date, reason: str = "") -> Residency:
    """Close a current residency; the history row stays (H2)."""
    r = _locked_residency(residency)
    _house_for_edit(actor, r.house)
    if r.move_out is not None:
        raise Conflict("residency.already_moved_out", Msg("已办理迁出", "Already moved out"), detail={"move_out": r.move_out.isoformat()})
    if move_out < r.move_in:
        raise Invalid("residency.move_out_before_move_in", Msg("迁出日期不能早于入住日期", "Move-out cannot be before move-in"))
    before = snapshot(r)
    r.move_out, r.move_out_reason = move_out, (reason or "").strip()[:100]
    r.save(update_fields=["move_out", "move_out_reason", "updated_at"])
    record(actor=actor, action="residency.move_out", obj=r, before=before, after=snapshot(r), region_path=r.house.region.path)
    return r


RESIDENCY_EDITABLE = {"is_actual", "relation", "relation_to_head", "lease_end", "household"}


@transaction.atomic
def residency_update(*, actor: Any, residency: Residency, **changes: Any) -> Residency:
    """Toggle 实住 (is_actual), change relation, lease end or household of a residency."""
    unknown = set(changes) - RESIDENCY_EDITABLE
    if unknown:
        raise Invalid("residency.unknown_field", Msg("不可修改的字段", "These fields cannot be changed"), detail={"fields": sorted(unknown)})
    r = _locked_residency(residency)
    _house_for_edit(actor, r.house)
    before = snapshot(r)
    for k, v in changes.items():
        setattr(r, k, v)
    _check_dates(r.move_in, r.lease_end, r.relation)
    if r.household_id is not None and r.household.house_id != r.house_id:
        raise Invalid("residency.household_house_mismatch", Msg("该户不属于此房屋", "The household belongs to another house"))
    r.save()
    record(actor=actor, action="residency.update", obj=r, before=before, after=snapshot(r), region_path=r.house.region.path)
    return r


# ---- H3: special groups ---------------------------------------------------------------------


def _check_tag_edit(actor: Any, person: Person) -> str:
    path = person.region.path
    check_perm_at(actor, Perm.SPECIAL_GROUP_EDIT, path, visible_via=(Perm.PERSON_VIEW, Perm.SPECIAL_GROUP_VIEW),
                  code="person.special_group_forbidden")
    return path


@transaction.atomic
def special_tag_add(
    *, actor: Any, person: Person, group: str, since: dt.date | None = None, until: dt.date | None = None,
    level: str = "", note: str = "",
) -> SpecialGroupTag:
    """Tag a person as a member of a special group (H3). Needs SPECIAL_GROUP_EDIT over the person."""
    path = _check_tag_edit(actor, person)
    if group not in SpecialGroup.values:
        raise Invalid("person.special_group_unknown", Msg("特殊人群类别无效", "Unknown special group"), detail={"allowed": list(SpecialGroup.values)})
    if since and until and until < since:
        raise Invalid("person.special_group_dates", Msg("截止日期不能早于认定日期", "Until cannot be before since"))
    if SpecialGroupTag.objects.filter(person=person, group=group).exists():
        raise Conflict("person.special_group_duplicate", Msg("此人已有该标签", "This person already has this tag"))
    tag = SpecialGroupTag(person=person, group=group, since=since, until=until, level=level, note=note,
                          created_by=actor if getattr(actor, "pk", None) else None)
    tag.full_clean(exclude=["person", "created_by"], validate_unique=False)
    tag.save()
    record(actor=actor, action="person.special_tag_add", obj=tag, after=snapshot(tag), region_path=path)
    return tag


@transaction.atomic
def special_tag_remove(*, actor: Any, tag: SpecialGroupTag) -> None:
    path = _check_tag_edit(actor, tag.person)
    before = snapshot(tag)
    pk = tag.pk
    tag.delete()
    record(actor=actor, action="person.special_tag_remove", object_type="people.specialgrouptag", object_id=pk,
           before=before, region_path=path)


# ---- H6: consents ---------------------------------------------------------------------------


def _check_consent_actor(actor: Any, person: Person) -> str:
    path = person.region.path
    if getattr(actor, "person_id", None) == person.pk and getattr(actor, "is_active", False):
        return path
    check_perm_at(actor, Perm.PERSON_EDIT, path, code="consent.forbidden")
    return path


@transaction.atomic
def consent_grant(*, actor: Any, person: Person, purpose: str, channel: str = "portal", text_version: str = "2026-01") -> Consent:
    """Record consent for one purpose (biometrics each need their own). Idempotent while active."""
    path = _check_consent_actor(actor, person)
    if purpose not in ConsentPurpose.values:
        raise Invalid("consent.purpose", Msg("授权用途无效", "Unknown consent purpose"), detail={"allowed": list(ConsentPurpose.values)})
    current = Consent.objects.select_for_update().filter(person=person, purpose=purpose, withdrawn_at__isnull=True).first()
    if current is not None:
        return current
    c = Consent.objects.create(person=person, purpose=purpose, granted_at=timezone.now(), channel=(channel or "portal")[:20],
                               text_version=text_version[:20])
    record(actor=actor, action="consent.grant", obj=c, after=snapshot(c), region_path=path)
    return c


@transaction.atomic
def consent_withdraw(*, actor: Any, person: Person, purpose: str) -> Consent:
    """Withdraw the active consent for ``purpose`` (PIPL art. 15); the record is kept with withdrawn_at."""
    path = _check_consent_actor(actor, person)
    c = Consent.objects.select_for_update().filter(person=person, purpose=purpose, withdrawn_at__isnull=True).first()
    if c is None:
        raise Conflict("consent.not_active", Msg("该用途没有有效的授权", "There is no active consent for this purpose"))
    before = snapshot(c)
    c.withdrawn_at = timezone.now()
    c.save(update_fields=["withdrawn_at", "updated_at"])
    record(actor=actor, action="consent.withdraw", obj=c, before=before, after=snapshot(c), region_path=path)
    return c

