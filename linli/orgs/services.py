"""Writes for organisations, accounts, roles, role assignments, API tokens and login (O1, O2).

Every function is keyword-only, checks permission and scope first (out of scope ⇒ 404), validates,
and appends an audit entry inside its transaction. Authentication events (login success, failure,
logout) are audited with kind="auth" and never carry a password.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from stdnum.cn import uscc as uscc_std
from stdnum.exceptions import ValidationError as StdnumError

from linli.audit.services import record, snapshot
from linli.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Throttled,
    validation_detail,
)
from linli.core.i18n import Msg
from linli.core.validators import normalise_phone
from linli.places.models import Region

from . import perms as perms_module
from . import selectors
from .models import (
    Account,
    AccountKind,
    ApiToken,
    LoginAttempt,
    Organisation,
    OrgType,
    Role,
    RoleAssignment,
    hash_token,
)
from .perms import Perm, check_perm_anywhere, check_perm_at, covers

ACCOUNT_FIELDS = ["username", "kind", "display_name", "phone", "organisation", "person", "is_active", "is_staff",
                  "is_superuser", "preferred_language"]
TOKEN_FIELDS = ["account", "name", "prefix", "expires_at", "revoked_at"]


def _full_clean(obj, exclude: list[str] | None = None) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=True, validate_constraints=True)
    except ValidationError as exc:
        raise Invalid(
            "validation.failed", Msg("数据校验未通过", "Validation failed"), detail={"fields": validation_detail(exc)}
        ) from exc


def _region_in_scope(actor, perm: str, region: Region) -> None:
    check_perm_at(actor, perm, region.path, code="region.not_found",
                  message=Msg("区域不存在或不在您的管辖范围内", "Region not found or outside your scope"))


# ---- organisations (O1) --------------------------------------------------------------------------
def _clean_uscc(value: str) -> str:
    value = (value or "").strip().upper().replace(" ", "")
    if not value:
        return ""
    try:
        return uscc_std.validate(value)
    except StdnumError as exc:
        raise Invalid(
            "org.uscc_invalid",
            Msg("统一社会信用代码无效（GB 32100 校验未通过）", "Unified social credit code is not valid (GB 32100)"),
            detail={"uscc": value},
        ) from exc


def _check_org_type(type: str) -> None:
    if type not in OrgType.values:
        raise Invalid("org.type_invalid", Msg("未知的组织类型", "Unknown organisation type"), detail={"allowed": OrgType.values})


def _check_parent(actor, parent: Organisation | None, organisation: Organisation | None = None) -> None:
    if parent is None:
        return
    if not Organisation.objects.for_actor(actor, Perm.ORG_VIEW).filter(pk=parent.pk).exists():
        raise NotFound("org.parent_not_found")
    node: Organisation | None = parent
    seen: set[int] = set()
    while node is not None and organisation is not None:
        if node.pk == organisation.pk:
            raise Invalid("org.parent_cycle", Msg("上级组织不能是自身或下级", "Parent cannot be the organisation or its child"))
        if node.pk in seen:
            break
        seen.add(node.pk)
        node = node.parent


@transaction.atomic
def organisation_create(
    *,
    actor: Account,
    type: str,
    name: str,
    region: Region,
    short_name: str = "",
    uscc: str = "",
    parent: Organisation | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    address: str = "",
) -> Organisation:
    _region_in_scope(actor, Perm.ORG_EDIT, region)
    _check_org_type(type)
    _check_parent(actor, parent)
    org = Organisation(
        type=type, name=name.strip(), short_name=short_name.strip(), uscc=_clean_uscc(uscc), region=region,
        parent=parent, contact_name=contact_name.strip(), contact_phone=contact_phone.strip(), address=address.strip(),
    )
    _full_clean(org)
    org.save()
    record(actor=actor, action="org.create", obj=org, after=snapshot(org), region_path=region.path)
    return org


_UNSET: Any = object()


@transaction.atomic
def organisation_update(
    *,
    actor: Account,
    organisation: Organisation,
    type: str | None = None,
    name: str | None = None,
    region: Region | None = None,
    short_name: str | None = None,
    uscc: str | None = None,
    parent: Organisation | None = _UNSET,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    address: str | None = None,
    is_active: bool | None = None,
) -> Organisation:
    org = selectors.organisation_get(actor=actor, organisation_id=organisation.pk)
    org = Organisation.objects.select_for_update().select_related("region").get(pk=org.pk)
    _region_in_scope(actor, Perm.ORG_EDIT, org.region)
    before = snapshot(org)
    if region is not None and region.pk != org.region_id:
        _region_in_scope(actor, Perm.ORG_EDIT, region)
        org.region = region
    if type is not None:
        _check_org_type(type)
        org.type = type
    if parent is not _UNSET:
        _check_parent(actor, parent, org)
        org.parent = parent
    if uscc is not None:
        org.uscc = _clean_uscc(uscc)
    for field, value in (("name", name), ("short_name", short_name), ("contact_name", contact_name),
                         ("contact_phone", contact_phone), ("address", address)):
        if value is not None:
            setattr(org, field, value.strip())
    if is_active is not None:
        org.is_active = is_active
    _full_clean(org)
    org.save()
    record(actor=actor, action="org.update", obj=org, before=before, after=snapshot(org), region_path=org.region.path)
    return org


# ---- accounts (O2) -------------------------------------------------------------------------------
def _check_password(password: str, user: Account) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise Invalid(
            "account.password_weak",
            Msg("密码不符合安全要求", "The password does not meet the requirements"),
            detail={"password": [str(m) for m in exc.messages]},
        ) from exc


def _clean_phone(phone: str) -> str:
    phone = (phone or "").strip()
    return normalise_phone(phone) if phone else ""


def check_account_edit(actor: Account, account: Account) -> Account:
    """404 when the account is not visible to ``actor``; 403 when it is but not wholly in ACCOUNT_EDIT scope."""
    visible = selectors.account_get(actor=actor, account_id=account.pk)
    check_perm_anywhere(actor, Perm.ACCOUNT_EDIT)
    if not selectors.account_fully_in_scope(actor, visible, Perm.ACCOUNT_EDIT):
        raise Forbidden(
            "account.out_of_scope",
            Msg("该账号有部分归属超出您的管辖范围，无法修改", "This account reaches outside your scope and cannot be changed by you"),
        )
    return visible


@transaction.atomic
def account_create(
    *,
    actor: Account,
    username: str,
    password: str,
    kind: str,
    display_name: str,
    phone: str = "",
    organisation: Organisation | None = None,
    person=None,
) -> Account:
    check_perm_anywhere(actor, Perm.ACCOUNT_EDIT)
    if kind not in AccountKind.values:
        raise Invalid("account.kind_invalid", Msg("未知的账号类型", "Unknown account kind"), detail={"allowed": AccountKind.values})
    if kind == AccountKind.RESIDENT and person is None:
        raise Invalid("account.person_required", Msg("居民账号须关联人员", "A resident account must be linked to a person"))
    if kind != AccountKind.RESIDENT and person is not None:
        raise Invalid("account.person_only_resident", Msg("只有居民账号可关联人员", "Only resident accounts link to a person"))
    if organisation is None and person is None and not actor.is_superuser:
        raise Invalid(
            "account.anchor_required",
            Msg("请指定账号所属组织", "Choose the organisation the account belongs to"),
        )
    if organisation is not None:
        org_path = Organisation.objects.filter(pk=organisation.pk).values_list("region__path", flat=True).first()
        if org_path is None or not covers(actor, Perm.ACCOUNT_EDIT, org_path):
            raise NotFound("org.not_found")
    if person is not None:
        from linli.people.models import Person

        if not Person.objects.for_actor(actor, Perm.ACCOUNT_EDIT).filter(pk=person.pk).exists():
            raise NotFound("person.not_found")
        if Account.objects.filter(person_id=person.pk).exists():
            raise Conflict("account.person_taken", Msg("该人员已有账号", "This person already has an account"))
    username = (username or "").strip()
    if Account.objects.filter(username__iexact=username).exists():
        raise Conflict("account.username_taken", Msg("用户名已被使用", "Username is already taken"), detail={"username": username})
    acc = Account(
        username=username, kind=kind, display_name=display_name.strip(), phone=_clean_phone(phone),
        organisation=organisation, person=person,
    )
    _check_password(password, acc)
    acc.set_password(password)
    _full_clean(acc)
    acc.save()
    record(actor=actor, action="account.create", obj=acc, after=snapshot(acc, ACCOUNT_FIELDS),
           region_path=selectors.account_region_path(acc))
    return acc


@transaction.atomic
def account_update(
    *,
    actor: Account,
    account: Account,
    display_name: str | None = None,
    phone: str | None = None,
    organisation: Organisation | None = _UNSET,
    preferred_language: str | None = None,
    is_active: bool | None = None,
) -> Account:
    acc = check_account_edit(actor, account)
    acc = Account.objects.select_for_update().get(pk=acc.pk)
    before = snapshot(acc, ACCOUNT_FIELDS)
    if organisation is not _UNSET:
        if organisation is not None:
            org_path = Organisation.objects.filter(pk=organisation.pk).values_list("region__path", flat=True).first()
            if org_path is None or not covers(actor, Perm.ACCOUNT_EDIT, org_path):
                raise NotFound("org.not_found")
        elif acc.person_id is None and not actor.is_superuser:
            raise Invalid("account.anchor_required", Msg("请指定账号所属组织", "Choose the organisation the account belongs to"))
        acc.organisation = organisation
    if display_name is not None:
        acc.display_name = display_name.strip()
    if phone is not None:
        acc.phone = _clean_phone(phone)
    if preferred_language is not None:
        if preferred_language not in dict(settings.LANGUAGES):
            raise Invalid("account.language_invalid", Msg("不支持的界面语言", "Unsupported language"),
                          detail={"allowed": list(dict(settings.LANGUAGES))})
        acc.preferred_language = preferred_language
    if is_active is not None and is_active != acc.is_active:
        if acc.pk == actor.pk and not is_active:
            raise Invalid("account.self_deactivate", Msg("不能停用自己的账号", "You cannot deactivate your own account"))
        acc.is_active = is_active
        if not is_active:
            ApiToken.objects.filter(account_id=acc.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    _full_clean(acc, exclude=["password"])
    acc.save()
    record(actor=actor, action="account.update", obj=acc, before=before, after=snapshot(acc, ACCOUNT_FIELDS),
           region_path=selectors.account_region_path(acc))
    return acc


@transaction.atomic
def account_deactivate(*, actor: Account, account: Account) -> Account:
    """Disable login (console, portal, admin, API); every API token of the account is revoked."""
    return account_update(actor=actor, account=account, is_active=False)


@transaction.atomic
def account_set_password(*, actor: Account, account: Account, password: str, old_password: str | None = None) -> Account:
    """Own password (needs ``old_password``) or, with ACCOUNT_EDIT over the whole account, anyone's."""
    if account.pk == actor.pk:
        acc = Account.objects.select_for_update().get(pk=actor.pk)
        if old_password is None or not acc.check_password(old_password):
            raise Invalid("account.old_password_wrong", Msg("原密码不正确", "The current password is wrong"))
    else:
        acc = check_account_edit(actor, account)
        acc = Account.objects.select_for_update().get(pk=acc.pk)
    _check_password(password, acc)
    acc.set_password(password)
    acc.save(update_fields=["password"])
    record(actor=actor, action="account.set_password", obj=acc, detail={"self": acc.pk == actor.pk},
           region_path=selectors.account_region_path(acc))
    return acc


# ---- roles (O2) ----------------------------------------------------------------------------------
def _check_superuser(actor: Account) -> None:
    if not (actor.is_active and actor.is_superuser):
        raise Forbidden("role.superuser_only", Msg("只有超级管理员可以定义角色", "Only a superuser may define roles"))


def _clean_permissions(permissions: list[str]) -> list[str]:
    unknown = sorted({p for p in permissions if not perms_module.is_known(p)})
    if unknown:
        raise Invalid(
            "role.unknown_permission",
            Msg("未知的权限名称：{names}", "Unknown permission names: {names}"),
            names=", ".join(unknown),
            detail={"unknown": unknown},
        )
    return sorted(set(permissions))


@transaction.atomic
def role_create(*, actor: Account, code: str, name: str, permissions: list[str], description: str = "") -> Role:
    _check_superuser(actor)
    if Role.objects.filter(code=code).exists():
        raise Conflict("role.code_taken", Msg("角色代码已存在", "Role code already exists"), detail={"code": code})
    role = Role(code=code, name=name.strip(), description=description.strip(), permissions=_clean_permissions(permissions))
    _full_clean(role)
    role.save()
    record(actor=actor, action="role.create", obj=role, after=snapshot(role))
    return role


@transaction.atomic
def role_update(
    *, actor: Account, role: Role, name: str | None = None, permissions: list[str] | None = None,
    description: str | None = None,
) -> Role:
    _check_superuser(actor)
    role = Role.objects.select_for_update().get(pk=role.pk)
    before = snapshot(role)
    if name is not None:
        role.name = name.strip()
    if description is not None:
        role.description = description.strip()
    if permissions is not None:
        role.permissions = _clean_permissions(permissions)
    _full_clean(role)
    role.save()
    record(actor=actor, action="role.update", obj=role, before=before, after=snapshot(role))
    return role


# ---- role assignments (O2) -----------------------------------------------------------------------
def check_no_escalation(actor: Account, role: Role, region: Region) -> None:
    """The actor must hold every permission of ``role`` over ``region`` (no privilege escalation)."""
    if actor.is_superuser:
        return
    missing = sorted(p for p in role.permissions or [] if not covers(actor, p, region.path))
    if missing:
        raise Forbidden(
            "role.escalation",
            Msg("不能授予您在该范围内自己没有的权限", "You cannot grant permissions you do not hold in that scope"),
            detail={"missing": missing},
        )


@transaction.atomic
def role_assign(
    *, actor: Account, account: Account, role: Role, region: Region, valid_until: dt.datetime | None = None
) -> RoleAssignment:
    _region_in_scope(actor, Perm.ROLE_ASSIGN, region)
    target = selectors.account_get(actor=actor, account_id=account.pk, perm=Perm.ROLE_ASSIGN)
    if not target.is_active:
        raise Invalid("account.inactive", Msg("账号已停用", "The account is deactivated"))
    if valid_until is not None and valid_until <= timezone.now():
        raise Invalid("role.valid_until_past", Msg("有效期须晚于当前时间", "valid_until must be in the future"))
    check_no_escalation(actor, role, region)
    if RoleAssignment.objects.filter(account_id=target.pk, role_id=role.pk, region_id=region.pk).exists():
        raise Conflict("role.already_assigned", Msg("该账号已在此范围拥有该角色", "The account already has this role here"))
    ra = RoleAssignment(account=target, role=role, region=region, granted_by=actor, valid_until=valid_until)
    try:
        with transaction.atomic():
            ra.save()
    except IntegrityError as exc:
        raise Conflict("role.already_assigned", Msg("该账号已在此范围拥有该角色", "The account already has this role here")) from exc
    record(actor=actor, action="role.assign", obj=ra, after=snapshot(ra) | {"permissions": role.permissions},
           region_path=region.path)
    return ra


@transaction.atomic
def role_revoke(*, actor: Account, assignment: RoleAssignment) -> None:
    ra = selectors.assignment_get(actor=actor, assignment_id=assignment.pk, perm=Perm.ROLE_ASSIGN)
    check_no_escalation(actor, ra.role, ra.region)
    before = snapshot(ra) | {"permissions": ra.role.permissions}
    path = ra.region.path
    ra.delete()
    record(actor=actor, action="role.revoke", object_type="orgs.roleassignment", object_id=assignment.pk,
           before=before, region_path=path)


# ---- API tokens ----------------------------------------------------------------------------------
def token_default_expiry() -> dt.datetime:
    """Expiry for tokens obtained with a password: LINLI_API_TOKEN_TTL_SECONDS (default 30 days)."""
    return timezone.now() + dt.timedelta(seconds=getattr(settings, "LINLI_API_TOKEN_TTL_SECONDS", 30 * 24 * 3600))


@transaction.atomic
def token_create(*, actor: Account, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """Create an API token for ``actor``; returns (token row, raw value). The raw value is shown once."""
    if not actor.is_active:
        raise Forbidden("account.inactive", Msg("账号已停用", "The account is deactivated"))
    name = (name or "").strip() or "api"
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid("token.expires_past", Msg("过期时间须晚于当前时间", "expires_at must be in the future"))
    raw = ApiToken.generate()
    tok = ApiToken(account=actor, name=name[:50], prefix=raw[:10], key_hash=hash_token(raw), expires_at=expires_at)
    _full_clean(tok)
    tok.save()
    record(actor=actor, action="token.create", obj=tok, kind="auth", after=snapshot(tok, TOKEN_FIELDS),
           region_path=selectors.account_region_path(actor))
    return tok, raw


@transaction.atomic
def token_revoke(*, actor: Account, token: ApiToken) -> ApiToken:
    """Revoke one of ``actor``'s own tokens (a superuser may revoke anyone's)."""
    qs = ApiToken.objects.select_for_update()
    if not actor.is_superuser:
        qs = qs.filter(account_id=actor.pk)
    tok = qs.filter(pk=token.pk).first()
    if tok is None:
        raise NotFound("token.not_found")
    if tok.revoked_at is None:
        tok.revoked_at = timezone.now()
        tok.save(update_fields=["revoked_at"])
        record(actor=actor, action="token.revoke", obj=tok, kind="auth", after=snapshot(tok, TOKEN_FIELDS),
               region_path=selectors.account_region_path(tok.account))
    return tok


# ---- login, throttling, logout -------------------------------------------------------------------
class AuthFailed(DomainError):
    status = 401


def _ip_limit() -> int:
    return getattr(settings, "LINLI_LOGIN_MAX_FAILURES_PER_IP", settings.LINLI_LOGIN_MAX_FAILURES * 4)


def _retry_after(failures: list[dt.datetime], limit: int, now: dt.datetime, window: dt.timedelta) -> int | None:
    """Seconds until fewer than ``limit`` failures remain in the window (None = not throttled)."""
    if len(failures) < limit:
        return None
    failures = sorted(failures)
    # The lock lifts when the (len - limit + 1)-th oldest failure leaves the window.
    release = failures[len(failures) - limit] + window
    return max(1, math.ceil((release - now).total_seconds()))


def check_login_throttle(*, username: str, request_ip: str) -> None:
    """Raise Throttled (429, code auth.throttled, detail.retry_after) when too many recent failures."""
    now = timezone.now()
    window = dt.timedelta(seconds=settings.LINLI_LOGIN_WINDOW_SECONDS)
    since = now - window
    key = username.strip().lower()
    last_ok = (
        LoginAttempt.objects.filter(username=key, succeeded=True, at__gte=since).order_by("-at").values_list("at", flat=True).first()
    )
    user_failures = LoginAttempt.objects.filter(username=key, succeeded=False, at__gte=last_ok or since)
    waits = [
        _retry_after(list(user_failures.values_list("at", flat=True)), settings.LINLI_LOGIN_MAX_FAILURES, now, window),
    ]
    if request_ip:
        ip_failures = LoginAttempt.objects.filter(ip=request_ip, succeeded=False, at__gte=since)
        waits.append(_retry_after(list(ip_failures.values_list("at", flat=True)), _ip_limit(), now, window))
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise Throttled(
            "auth.throttled",
            Msg("登录失败次数过多，请{seconds}秒后再试", "Too many failed logins; try again in {seconds} seconds"),
            seconds=wait,
            detail={"retry_after": wait},
        )


def login(*, request_ip: str, username: str, password: str) -> Account:
    """Check credentials with Django's auth backends; throttled per username and per IP.

    Raises Throttled (429 ``auth.throttled``, ``detail.retry_after`` seconds) or AuthFailed
    (401 ``auth.invalid_credentials``; also for inactive accounts, without saying so). Every outcome
    is recorded in LoginAttempt and in the audit trail (kind="auth"). Not atomic on purpose: a
    failure must be recorded even though an exception is raised.
    """
    username = (username or "").strip()[:150]
    key = username.lower()
    check_login_throttle(username=username, request_ip=request_ip)
    account = authenticate(None, username=username, password=password or "") if username else None
    if account is None or not account.is_active:
        with transaction.atomic():
            LoginAttempt.objects.create(username=key, ip=request_ip[:64], succeeded=False)
            known = Account.objects.filter(username=username).only("pk", "username").first()
            record(
                actor=None, action="auth.login_failed", kind="auth",
                object_type="orgs.account" if known else "", object_id=known.pk if known else "",
                detail={"username": username}, region_path=selectors.account_region_path(known) if known else "",
            )
        raise AuthFailed("auth.invalid_credentials", Msg("用户名或密码错误", "Wrong username or password"))
    with transaction.atomic():
        now = timezone.now()
        LoginAttempt.objects.create(username=key, ip=request_ip[:64], succeeded=True, at=now)
        # Keep the throttle table small: rows older than a few windows serve no purpose.
        LoginAttempt.objects.filter(at__lt=now - dt.timedelta(seconds=4 * settings.LINLI_LOGIN_WINDOW_SECONDS)).delete()
        Account.objects.filter(pk=account.pk).update(last_login=now)
        account.last_login = now
        record(actor=account, action="auth.login", kind="auth", obj=account, region_path=selectors.account_region_path(account))
    return account


@transaction.atomic
def logout(*, actor: Account, token: ApiToken | None = None) -> None:
    """Record a logout (console/portal session end); revoke ``token`` when logging out an API token."""
    if token is not None:
        ApiToken.objects.filter(pk=token.pk, account_id=actor.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record(actor=actor, action="auth.logout", kind="auth", obj=actor,
           detail={"token_id": token.pk} if token is not None else None,
           region_path=selectors.account_region_path(actor))
