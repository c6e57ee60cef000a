"""API schemas for auth, organisations, accounts and roles. Input (In/Patch) and output (Out) apart."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from linli.core.pii import mask_phone

from .models import AccountKind, OrgType


# ---- auth ----------------------------------------------------------------------------------------
class TokenLoginIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=256)
    name: str = Field("api", max_length=50, description="令牌名称（便于识别和吊销）")


class TokenIssuedOut(Schema):
    id: int
    token: str = Field(..., description="原始令牌，只显示这一次")
    name: str
    expires_at: dt.datetime | None


class TokenCreateIn(Schema):
    name: str = Field(..., min_length=1, max_length=50)
    expires_at: dt.datetime | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    is_valid: bool


class RegionRefOut(Schema):
    id: int
    name: str
    path: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    kind: str
    is_superuser: bool
    organisation_id: int | None
    person_id: int | None
    preferred_language: str
    permissions: dict[str, list[RegionRefOut]]


class PasswordChangeIn(Schema):
    password: str = Field(..., min_length=1, max_length=256)
    old_password: str | None = Field(None, description="修改自己的密码时必填")


# ---- organisations -------------------------------------------------------------------------------
class OrganisationIn(Schema):
    type: OrgType
    name: str = Field(..., min_length=1, max_length=120)
    region_id: int
    short_name: str = Field("", max_length=40)
    uscc: str = Field("", max_length=30, description="统一社会信用代码（GB 32100，含校验位）")
    parent_id: int | None = None
    contact_name: str = Field("", max_length=50)
    contact_phone: str = Field("", max_length=30)
    address: str = Field("", max_length=200)


class OrganisationPatch(Schema):
    type: OrgType | None = None
    name: str | None = Field(None, min_length=1, max_length=120)
    region_id: int | None = None
    short_name: str | None = Field(None, max_length=40)
    uscc: str | None = Field(None, max_length=30)
    parent_id: int | None = None
    contact_name: str | None = Field(None, max_length=50)
    contact_phone: str | None = Field(None, max_length=30)
    address: str | None = Field(None, max_length=200)
    is_active: bool | None = None


class OrganisationOut(Schema):
    id: int
    type: str
    type_label: str
    name: str
    short_name: str
    uscc: str
    region_id: int
    region_name: str
    parent_id: int | None
    contact_name: str
    contact_phone: str
    address: str
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_type_label(obj) -> str:
        return obj.get_type_display()

    @staticmethod
    def resolve_region_name(obj) -> str:
        return obj.region.name


class OrganisationFilter(Schema):
    type: OrgType | None = None
    region_id: int | None = None
    q: str | None = Field(None, max_length=100)
    is_active: bool | None = None


# ---- accounts ------------------------------------------------------------------------------------
class AccountIn(Schema):
    username: str = Field(..., min_length=3, max_length=150, pattern=r"^[\w.@+-]+$")
    password: str = Field(..., min_length=1, max_length=256)
    kind: AccountKind = AccountKind.STAFF
    display_name: str = Field(..., min_length=1, max_length=50)
    phone: str = Field("", max_length=20)
    organisation_id: int | None = None
    person_id: int | None = None


class AccountPatch(Schema):
    display_name: str | None = Field(None, min_length=1, max_length=50)
    phone: str | None = Field(None, max_length=20)
    organisation_id: int | None = None
    preferred_language: str | None = Field(None, max_length=10)
    is_active: bool | None = None


class AccountOut(Schema):
    id: int
    username: str
    display_name: str
    kind: str
    phone_masked: str
    organisation_id: int | None
    organisation_name: str
    person_id: int | None
    is_active: bool
    is_superuser: bool
    last_login: dt.datetime | None
    date_joined: dt.datetime

    @staticmethod
    def resolve_phone_masked(obj) -> str:
        return mask_phone(obj.phone)

    @staticmethod
    def resolve_organisation_name(obj) -> str:
        return obj.organisation.name if obj.organisation_id else ""


class AccountFilter(Schema):
    q: str | None = Field(None, max_length=100)
    organisation_id: int | None = None
    kind: AccountKind | None = None
    is_active: bool | None = None


# ---- roles ---------------------------------------------------------------------------------------
class RoleIn(Schema):
    code: str = Field(..., min_length=2, max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(..., min_length=1, max_length=50)
    description: str = Field("", max_length=200)
    permissions: list[str] = Field(default_factory=list, max_length=200)


class RolePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=50)
    description: str | None = Field(None, max_length=200)
    permissions: list[str] | None = Field(None, max_length=200)


class RoleOut(Schema):
    id: int
    code: str
    name: str
    description: str
    permissions: list[str]
    is_system: bool


class PermissionOut(Schema):
    name: str
    label: str


class AssignmentIn(Schema):
    account_id: int
    role_id: int
    region_id: int
    valid_until: dt.datetime | None = None


class AssignmentOut(Schema):
    id: int
    account_id: int
    account_username: str
    role_id: int
    role_code: str
    role_name: str
    region_id: int
    region_name: str
    granted_by_id: int | None
    valid_until: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_account_username(obj) -> str:
        return obj.account.username

    @staticmethod
    def resolve_role_code(obj) -> str:
        return obj.role.code

    @staticmethod
    def resolve_role_name(obj) -> str:
        return obj.role.name

    @staticmethod
    def resolve_region_name(obj) -> str:
        return obj.region.name


class AssignmentFilter(Schema):
    account_id: int | None = None
    region_id: int | None = None
