"""/api/v1/people — persons (H1), households and residency (H2), special groups (H3), consents (H6).

Thin endpoints: parse → one selector/service → presenter → schema. Personal data is always masked;
plaintext ID numbers and phones only via POST /persons/{id}/reveal (permission + audit).
"""

from __future__ import annotations

from ninja import Router, Status

from linli.core.errors import Invalid, NotFound
from linli.core.i18n import Msg
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page
from linli.places.models import Region

from . import presenters, selectors, services
from .schemas import (
    ConsentIn,
    ConsentOut,
    HouseholdIn,
    HouseholdOut,
    MoveInIn,
    MoveOutIn,
    PersonIn,
    PersonOut,
    PersonPatch,
    PopulationOut,
    ResidencyOut,
    ResidencyPatch,
    RevealIn,
    RevealOut,
    SpecialMemberOut,
    TagIn,
    TagOut,
)

router = Router()


def _region(region_id: int) -> Region:
    region = Region.objects.filter(pk=region_id).first()
    if region is None:
        raise NotFound("region.not_found")
    return region


# ---- persons (H1) -----------------------------------------------------------------------------


@router.get("/persons", response={200: Page[PersonOut], **ERRORS}, summary="人员列表")
def list_persons(request, q: str | None = None, id_number: str | None = None, phone: str | None = None,
                 region_id: int | None = None, house_id: int | None = None, group: str | None = None,
                 cursor: str | None = None, limit: int = 50):
    rows, next_cursor = selectors.person_page(actor=request.auth, cursor=cursor, limit=limit, q=q, id_number=id_number,
                                              phone=phone, region_id=region_id, house_id=house_id, group=group)
    return {"items": [presenters.person_out(p, actor=request.auth) for p in rows], "next_cursor": next_cursor}


@router.post("/persons", response={201: PersonOut, **ERRORS}, summary="登记人员")
def create_person(request, payload: PersonIn):
    data = payload.dict()
    region = _region(data.pop("region_id"))
    person = services.person_create(actor=request.auth, region=region, **data)
    person = selectors.person_get(actor=request.auth, person_id=person.pk)
    return Status(201, presenters.person_out(person, actor=request.auth))


@router.get("/persons/{person_id}", response={200: PersonOut, **ERRORS}, summary="人员详情")
def get_person(request, person_id: int):
    return presenters.person_out(selectors.person_get(actor=request.auth, person_id=person_id), actor=request.auth)


_NULLABLE_PERSON = {"birth_date", "gender", "phone"}


@router.patch("/persons/{person_id}", response={200: PersonOut, **ERRORS}, summary="修改人员信息")
def update_person(request, person_id: int, payload: PersonPatch):
    person = selectors.person_get(actor=request.auth, person_id=person_id)
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None or k in _NULLABLE_PERSON}
    if "region_id" in changes:
        changes["region"] = _region(changes.pop("region_id"))
    services.person_update(actor=request.auth, person=person, **changes)
    return presenters.person_out(selectors.person_get(actor=request.auth, person_id=person_id), actor=request.auth)


@router.post("/persons/{person_id}/reveal", response={200: RevealOut, **ERRORS}, summary="查看完整证件号/电话(留痕)")
def reveal_person(request, person_id: int, payload: RevealIn):
    person = selectors.person_get(actor=request.auth, person_id=person_id)
    return services.person_reveal(actor=request.auth, person=person, fields=payload.fields, purpose=payload.purpose)


# ---- households and residency (H2) ------------------------------------------------------------


@router.get("/households", response={200: Page[HouseholdOut], **ERRORS}, summary="房屋内的户")
def list_households(request, house_id: int, cursor: str | None = None, limit: int = 50):
    rows, next_cursor = paginate(selectors.households_for_house(actor=request.auth, house_id=house_id), cursor=cursor, limit=limit)
    return {"items": [presenters.household_out(h, actor=request.auth) for h in rows], "next_cursor": next_cursor}


@router.post("/households", response={201: HouseholdOut, **ERRORS}, summary="建户")
def create_household(request, payload: HouseholdIn):
    house = selectors.house_get(actor=request.auth, house_id=payload.house_id)
    head = selectors.person_get(actor=request.auth, person_id=payload.head_id) if payload.head_id else None
    hh = services.household_create(actor=request.auth, house=house, head=head, name=payload.name)
    return Status(201, presenters.household_out(hh, actor=request.auth))


@router.get("/residencies", response={200: Page[ResidencyOut], **ERRORS}, summary="居住关系(按房屋或人员)")
def list_residencies(request, house_id: int | None = None, person_id: int | None = None, current_only: bool | None = None,
                     cursor: str | None = None, limit: int = 50):
    if (house_id is None) == (person_id is None):
        raise Invalid("residency.filter_required", Msg("请指定房屋或人员(二选一)", "Give exactly one of house_id or person_id"))
    if house_id is not None:
        qs = selectors.residencies_for_house(actor=request.auth, house_id=house_id, current_only=current_only is not False)
    else:
        qs = selectors.residencies_for_person(actor=request.auth, person_id=person_id, current_only=bool(current_only))
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit)
    return {"items": [presenters.residency_out(r, actor=request.auth) for r in rows], "next_cursor": next_cursor}


def _residency_out(request, residency_id: int):
    return presenters.residency_out(selectors.residency_get(actor=request.auth, residency_id=residency_id), actor=request.auth)


@router.post("/residencies", response={201: ResidencyOut, **ERRORS}, summary="入住登记")
def move_in(request, payload: MoveInIn):
    person = selectors.person_get(actor=request.auth, person_id=payload.person_id)
    house = selectors.house_get(actor=request.auth, house_id=payload.house_id)
    household = selectors.household_get(actor=request.auth, household_id=payload.household_id) if payload.household_id else None
    r = services.residency_move_in(
        actor=request.auth, person=person, house=house, relation=payload.relation, move_in=payload.move_in,
        household=household, is_actual=payload.is_actual, lease_end=payload.lease_end, relation_to_head=payload.relation_to_head,
    )
    return Status(201, _residency_out(request, r.pk))


@router.post("/residencies/{residency_id}/move-out", response={200: ResidencyOut, **ERRORS}, summary="迁出登记")
def move_out(request, residency_id: int, payload: MoveOutIn):
    r = selectors.residency_get(actor=request.auth, residency_id=residency_id)
    services.residency_move_out(actor=request.auth, residency=r, move_out=payload.move_out, reason=payload.reason)
    return _residency_out(request, residency_id)


@router.patch("/residencies/{residency_id}", response={200: ResidencyOut, **ERRORS}, summary="修改居住关系(实住/关系)")
def update_residency(request, residency_id: int, payload: ResidencyPatch):
    r = selectors.residency_get(actor=request.auth, residency_id=residency_id)
    changes = payload.dict(exclude_unset=True)
    for key in ("is_actual", "relation", "relation_to_head"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    if "household_id" in changes:
        hh_id = changes.pop("household_id")
        changes["household"] = selectors.household_get(actor=request.auth, household_id=hh_id) if hh_id else None
    services.residency_update(actor=request.auth, residency=r, **changes)
    return _residency_out(request, residency_id)


@router.get("/actual-population", response={200: PopulationOut, **ERRORS}, summary="实住人口统计")
def actual_population(request, region_id: int):
    return selectors.actual_population(actor=request.auth, region_id=region_id)


# ---- special groups (H3) ------------------------------------------------------------------------


@router.get("/special-groups", response={200: Page[SpecialMemberOut], **ERRORS}, summary="特殊人群名单(留痕)")
def list_special_groups(request, group: str | None = None, region_id: int | None = None, cursor: str | None = None, limit: int = 50):
    qs = selectors.special_group_list(actor=request.auth, group=group, region_id=region_id)
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit)
    return {"items": [presenters.special_member_out(t, actor=request.auth) for t in rows], "next_cursor": next_cursor}


@router.post("/persons/{person_id}/special-tags", response={201: TagOut, **ERRORS}, summary="添加特殊人群标签")
def add_special_tag(request, person_id: int, payload: TagIn):
    person = selectors.person_get(actor=request.auth, person_id=person_id)
    tag = services.special_tag_add(actor=request.auth, person=person, **payload.dict())
    return Status(201, presenters.tag_out(tag))


@router.delete("/special-tags/{tag_id}", response={204: None, **ERRORS}, summary="移除特殊人群标签")
def remove_special_tag(request, tag_id: int):
    services.special_tag_remove(actor=request.auth, tag=selectors.special_tag_get(actor=request.auth, tag_id=tag_id))
    return Status(204, None)


# ---- consents (H6) ------------------------------------------------------------------------------


@router.get("/persons/{person_id}/consents", response={200: Page[ConsentOut], **ERRORS}, summary="授权同意记录")
def list_consents(request, person_id: int, cursor: str | None = None, limit: int = 50):
    rows, next_cursor = paginate(selectors.consents_for_person(actor=request.auth, person_id=person_id), cursor=cursor, limit=limit)
    return {"items": [presenters.consent_out(c) for c in rows], "next_cursor": next_cursor}


@router.post("/persons/{person_id}/consents", response={201: ConsentOut, **ERRORS}, summary="登记授权同意")
def grant_consent(request, person_id: int, payload: ConsentIn):
    person = selectors.person_get(actor=request.auth, person_id=person_id)
    c = services.consent_grant(actor=request.auth, person=person, purpose=payload.purpose, channel=payload.channel,
                               text_version=payload.text_version)
    return Status(201, presenters.consent_out(c))


@router.post("/persons/{person_id}/consents/{purpose}/withdraw", response={200: ConsentOut, **ERRORS}, summary="撤回授权")
def withdraw_consent(request, person_id: int, purpose: str):
    person = selectors.person_get(actor=request.auth, person_id=person_id)
    return presenters.consent_out(services.consent_withdraw(actor=request.auth, person=person, purpose=purpose))


