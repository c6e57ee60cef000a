"""/api/v1/orgs — organisations, accounts, roles and role assignments (O1, O2)."""

from __future__ import annotations

from ninja import Query, Router, Status

from linli.core.errors import NotFound
from linli.core.pagination import paginate
from linli.core.schemas import ERRORS, Page
from linli.places.models import Region

from . import perms as perms_module
from . import selectors, services
from .models import Organisation
from .perms import Perm
from .schemas import (
    AccountFilter,
    AccountIn,
    AccountOut,
    AccountPatch,
    AssignmentFilter,
    AssignmentIn,
    AssignmentOut,
    OrganisationFilter,
    OrganisationIn,
    OrganisationOut,
    OrganisationPatch,
    PasswordChangeIn,
    PermissionOut,
    RoleIn,
    RoleOut,
    RolePatch,
)

router = Router()


def _region(region_id: int) -> Region:
    obj = Region.objects.filter(pk=region_id).first()
    if obj is None:
        raise NotFound("region.not_found")
    return obj


def _org_ref(org_id: int | None) -> Organisation | None:
    """An organisation the actor can see (ORG_VIEW or ACCOUNT_EDIT); services re-check the scope."""
    if org_id is None:
        return None
    obj = Organisation.objects.filter(pk=org_id).only("pk", "region_id").first()
    if obj is None:
        raise NotFound("org.not_found")
    return obj


# ---- organisations -------------------------------------------------------------------------------
@router.get("/organisations", response={200: Page[OrganisationOut], **ERRORS}, summary="组织列表")
def organisations_list(request, filters: Query[OrganisationFilter], cursor: str | None = None, limit: int = 50):
    qs = selectors.organisation_list(actor=request.auth, **filters.dict())
    rows, nxt = paginate(qs, cursor=cursor, limit=limit)
    return {"items": rows, "next_cursor": nxt}


@router.get("/organisations/{org_id}", response={200: OrganisationOut, **ERRORS}, summary="组织详情")
def organisations_detail(request, org_id: int):
    return selectors.organisation_get(actor=request.auth, organisation_id=org_id)


@router.post("/organisations", response={201: OrganisationOut, **ERRORS}, summary="新建组织")
def organisations_create(request, payload: OrganisationIn):
    data = payload.dict()
    region = _region(data.pop("region_id"))
    parent_id = data.pop("parent_id")
    parent = selectors.organisation_get(actor=request.auth, organisation_id=parent_id) if parent_id else None
    org = services.organisation_create(actor=request.auth, region=region, parent=parent, **data)
    return Status(201, org)


@router.patch("/organisations/{org_id}", response={200: OrganisationOut, **ERRORS}, summary="修改组织")
def organisations_update(request, org_id: int, payload: OrganisationPatch):
    org = selectors.organisation_get(actor=request.auth, organisation_id=org_id)
    data = payload.dict(exclude_unset=True)
    if "region_id" in data:
        region_id = data.pop("region_id")
        data["region"] = _region(region_id) if region_id is not None else None
    if "parent_id" in data:
        parent_id = data.pop("parent_id")
        data["parent"] = selectors.organisation_get(actor=request.auth, organisation_id=parent_id) if parent_id else None
    return services.organisation_update(actor=request.auth, organisation=org, **data)


# ---- accounts ------------------------------------------------------------------------------------
@router.get("/accounts", response={200: Page[AccountOut], **ERRORS}, summary="账号列表")
def accounts_list(request, filters: Query[AccountFilter], cursor: str | None = None, limit: int = 50):
    rows, nxt = paginate(selectors.account_list(actor=request.auth, **filters.dict()), cursor=cursor, limit=limit)
    return {"items": rows, "next_cursor": nxt}


@router.get("/accounts/{account_id}", response={200: AccountOut, **ERRORS}, summary="账号详情")
def accounts_detail(request, account_id: int):
    return selectors.account_get(actor=request.auth, account_id=account_id)


@router.post("/accounts", response={201: AccountOut, **ERRORS}, summary="新建账号")
def accounts_create(request, payload: AccountIn):
    data = payload.dict()
    org = _org_ref(data.pop("organisation_id"))
    person_id = data.pop("person_id")
    person = None
    if person_id is not None:
        from linli.people.models import Person

        person = Person.objects.filter(pk=person_id).only("pk", "region_id").first()
        if person is None:
            raise NotFound("person.not_found")
    acc = services.account_create(actor=request.auth, organisation=org, person=person, **data)
    return Status(201, acc)


@router.patch("/accounts/{account_id}", response={200: AccountOut, **ERRORS}, summary="修改账号")
def accounts_update(request, account_id: int, payload: AccountPatch):
    acc = selectors.account_get(actor=request.auth, account_id=account_id)
    data = payload.dict(exclude_unset=True)
    if "organisation_id" in data:
        data["organisation"] = _org_ref(data.pop("organisation_id"))
    return services.account_update(actor=request.auth, account=acc, **data)


@router.post("/accounts/{account_id}/deactivate", response={200: AccountOut, **ERRORS}, summary="停用账号")
def accounts_deactivate(request, account_id: int):
    acc = selectors.account_get(actor=request.auth, account_id=account_id)
    return services.account_deactivate(actor=request.auth, account=acc)


@router.post("/accounts/{account_id}/password", response={200: AccountOut, **ERRORS}, summary="设置密码")
def accounts_password(request, account_id: int, payload: PasswordChangeIn):
    if account_id == request.auth.pk:
        acc = request.auth
    else:
        acc = selectors.account_get(actor=request.auth, account_id=account_id)
    return services.account_set_password(
        actor=request.auth, account=acc, password=payload.password, old_password=payload.old_password
    )


# ---- roles and permissions -----------------------------------------------------------------------
@router.get("/permissions", response={200: list[PermissionOut], **ERRORS}, summary="全部权限名称")
def permissions_list(request):
    return [{"name": k, "label": v} for k, v in sorted(perms_module.PERM_LABELS.items())]


@router.get("/roles", response={200: Page[RoleOut], **ERRORS}, summary="角色列表")
def roles_list(request, q: str | None = None, cursor: str | None = None, limit: int = 50):
    rows, nxt = paginate(selectors.role_list(q=q), cursor=cursor, limit=limit, order="id")
    return {"items": rows, "next_cursor": nxt}


@router.get("/roles/{role_id}", response={200: RoleOut, **ERRORS}, summary="角色详情")
def roles_detail(request, role_id: int):
    return selectors.role_get(role_id=role_id)


@router.post("/roles", response={201: RoleOut, **ERRORS}, summary="新建角色（超级管理员）")
def roles_create(request, payload: RoleIn):
    return Status(201, services.role_create(actor=request.auth, **payload.dict()))


@router.patch("/roles/{role_id}", response={200: RoleOut, **ERRORS}, summary="修改角色（超级管理员）")
def roles_update(request, role_id: int, payload: RolePatch):
    role = selectors.role_get(role_id=role_id)
    return services.role_update(actor=request.auth, role=role, **payload.dict(exclude_unset=True))


# ---- role assignments ----------------------------------------------------------------------------
@router.get("/assignments", response={200: Page[AssignmentOut], **ERRORS}, summary="角色分配列表")
def assignments_list(request, filters: Query[AssignmentFilter], cursor: str | None = None, limit: int = 50):
    account = None
    if filters.account_id is not None:
        account = selectors.account_get(actor=request.auth, account_id=filters.account_id)
    qs = selectors.assignments_for(actor=request.auth, account=account, region_id=filters.region_id)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit)
    return {"items": rows, "next_cursor": nxt}


@router.post("/assignments", response={201: AssignmentOut, **ERRORS}, summary="分配角色")
def assignments_create(request, payload: AssignmentIn):
    account = selectors.account_get(actor=request.auth, account_id=payload.account_id, perm=Perm.ROLE_ASSIGN)
    role = selectors.role_get(role_id=payload.role_id)
    ra = services.role_assign(
        actor=request.auth, account=account, role=role, region=_region(payload.region_id), valid_until=payload.valid_until
    )
    return Status(201, ra)


@router.delete("/assignments/{assignment_id}", response={204: None, **ERRORS}, summary="撤销角色")
def assignments_delete(request, assignment_id: int):
    ra = selectors.assignment_get(actor=request.auth, assignment_id=assignment_id, perm=Perm.ROLE_ASSIGN)
    services.role_revoke(actor=request.auth, assignment=ra)
    return Status(204, None)
