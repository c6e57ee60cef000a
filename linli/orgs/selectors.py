"""Reads for organisations, accounts, roles and tokens (O1, O2).

Scope rules:
- Organisations are scoped by their ``region`` (``Organisation.objects.for_actor``).
- Role assignments are scoped by their ``region``.
- Accounts have no region of their own. An account is visible to an actor holding ``perm`` (normally
  ACCOUNT_VIEW) when any of its anchors lies in the actor's scope for ``perm``: its organisation's
  region, its person's region (residents), or the region of any of its role assignments. Superuser
  accounts without anchors are visible to superusers only.
- Writes on an account need more: *every* anchor must be inside the actor's ACCOUNT_EDIT scope
  (see ``account_fully_in_scope``), so a community worker cannot take over a street officer who also
  holds a role in that community.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from linli.core.errors import NotFound
from linli.core.scoping import scope_q
from linli.places.models import Region

from .models import Account, ApiToken, Organisation, Role, RoleAssignment
from .perms import Perm


def _active_q() -> Q:
    return Q(valid_until__isnull=True) | Q(valid_until__gt=timezone.now())


def grants_for_account(account) -> list[tuple[str, frozenset[str]]]:
    """(region path, permission names) for each active role assignment of ``account``."""
    rows = (
        RoleAssignment.objects.filter(account_id=account.pk)
        .filter(_active_q())
        .values_list("region__path", "role__permissions")
    )
    return [(path, frozenset(perms or [])) for path, perms in rows]


def _region_subtree_q(field: str, region_id: int | None) -> Q | None:
    if region_id is None:
        return None
    path = Region.objects.filter(pk=region_id).values_list("path", flat=True).first()
    if path is None:
        return Q(pk__in=[])
    return Q(**{f"{field}__path__startswith": path})


# ---- organisations -------------------------------------------------------------------------------
def organisation_list(
    *, actor, type: str | None = None, region_id: int | None = None, q: str | None = None, is_active: bool | None = None
) -> QuerySet[Organisation]:
    qs = Organisation.objects.for_actor(actor, Perm.ORG_VIEW).select_related("region")
    if type:
        qs = qs.filter(type=type)
    sub = _region_subtree_q("region", region_id)
    if sub is not None:
        qs = qs.filter(sub)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(short_name__icontains=q) | Q(uscc=q.upper()))
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs


def organisation_get(*, actor, organisation_id: int, perm: str = Perm.ORG_VIEW) -> Organisation:
    obj = Organisation.objects.for_actor(actor, perm).select_related("region").filter(pk=organisation_id).first()
    if obj is None:
        raise NotFound("org.not_found")
    return obj


# ---- accounts ------------------------------------------------------------------------------------
def account_scope_q(paths: list[str] | None) -> Q | None:
    """Q for accounts with at least one anchor in ``paths`` (None = unrestricted)."""
    if paths is None:
        return None
    if not paths:
        return Q(pk__in=[])
    in_assignments = Exists(
        RoleAssignment.objects.filter(scope_q(RoleAssignment, paths), account_id=OuterRef("pk"))
    )
    return (
        scope_q(Account, paths, field="organisation__region")
        | scope_q(Account, paths, field="person__region")
        | Q(in_assignments)
    )


def accounts_for_actor(actor, perm: str = Perm.ACCOUNT_VIEW) -> QuerySet[Account]:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return Account.objects.none()
    q = account_scope_q(actor.scope_paths(perm))
    qs = Account.objects.all()
    return qs if q is None else qs.filter(q)


def account_list(
    *, actor, q: str | None = None, organisation_id: int | None = None, kind: str | None = None, is_active: bool | None = None
) -> QuerySet[Account]:
    qs = accounts_for_actor(actor, Perm.ACCOUNT_VIEW).select_related("organisation")
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
    if organisation_id is not None:
        qs = qs.filter(organisation_id=organisation_id)
    if kind:
        qs = qs.filter(kind=kind)
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs


def account_get(*, actor, account_id: int, perm: str = Perm.ACCOUNT_VIEW) -> Account:
    obj = accounts_for_actor(actor, perm).select_related("organisation").filter(pk=account_id).first()
    if obj is None:
        raise NotFound("account.not_found")
    return obj


def account_anchor_paths(account: Account) -> list[str]:
    """Region paths of every anchor of ``account`` (organisation, person, role assignments)."""
    paths: list[str] = []
    if account.organisation_id:
        paths.append(Organisation.objects.filter(pk=account.organisation_id).values_list("region__path", flat=True).get())
    if account.person_id:
        from linli.people.models import Person

        paths.append(Person.objects.filter(pk=account.person_id).values_list("region__path", flat=True).get())
    paths.extend(RoleAssignment.objects.filter(account_id=account.pk).values_list("region__path", flat=True))
    return paths


def account_fully_in_scope(actor, account: Account, perm: str = Perm.ACCOUNT_EDIT) -> bool:
    """True when every anchor of ``account`` lies inside ``actor``'s scope for ``perm``."""
    if actor.is_superuser:
        return True
    if account.is_superuser:
        return False
    scope = actor.scope_paths(perm)
    anchors = account_anchor_paths(account)
    return bool(anchors) and all(any(a.startswith(p) for p in scope) for a in anchors)


def account_region_path(account: Account) -> str:
    """The account's 'home' region path for audit entries: organisation, else person, else first role."""
    anchors = account_anchor_paths(account)
    return anchors[0] if anchors else ""


# ---- roles and assignments -----------------------------------------------------------------------
def role_list(*, q: str | None = None) -> QuerySet[Role]:
    qs = Role.objects.all()
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q))
    return qs


def role_get(*, role_id: int) -> Role:
    obj = Role.objects.filter(pk=role_id).first()
    if obj is None:
        raise NotFound("role.not_found")
    return obj


def assignments_for(*, actor, account: Account | None = None, region_id: int | None = None) -> QuerySet[RoleAssignment]:
    """Role assignments the actor may see (ACCOUNT_VIEW over the assignment's region)."""
    qs = RoleAssignment.objects.for_actor(actor, Perm.ACCOUNT_VIEW).select_related("account", "role", "region")
    if account is not None:
        qs = qs.filter(account_id=account.pk)
    sub = _region_subtree_q("region", region_id)
    if sub is not None:
        qs = qs.filter(sub)
    return qs


def assignment_get(*, actor, assignment_id: int, perm: str = Perm.ACCOUNT_VIEW) -> RoleAssignment:
    obj = (
        RoleAssignment.objects.for_actor(actor, perm)
        .select_related("account", "role", "region")
        .filter(pk=assignment_id)
        .first()
    )
    if obj is None:
        raise NotFound("role_assignment.not_found")
    return obj


# ---- what may I do? ------------------------------------------------------------------------------
def my_permissions(account) -> dict[str, list[dict]]:
    """{perm: [{"id", "name", "path"}...]} — the top-most regions where ``account`` holds each perm.

    A superuser holds every known permission over every root region. Used by the console to show menus.
    """
    from . import perms as perms_module

    if account is None or not getattr(account, "is_authenticated", False) or not account.is_active:
        return {}
    if account.is_superuser:
        roots = [{"id": r.pk, "name": r.name, "path": r.path} for r in Region.objects.get_root_nodes()]
        return {p: list(roots) for p in sorted(perms_module.ALL_PERMS)}
    rows = (
        RoleAssignment.objects.filter(account_id=account.pk)
        .filter(_active_q())
        .values_list("region_id", "region__name", "region__path", "role__permissions")
    )
    out: dict[str, dict[str, dict]] = {}
    for rid, name, path, perms in rows:
        for p in perms or []:
            out.setdefault(p, {})[path] = {"id": rid, "name": name, "path": path}
    result: dict[str, list[dict]] = {}
    for p, by_path in sorted(out.items()):
        kept: list[dict] = []
        for path in sorted(by_path, key=len):
            if not any(path.startswith(k["path"]) for k in kept):
                kept.append(by_path[path])
        result[p] = sorted(kept, key=lambda r: r["path"])
    return result


def has_perm_anywhere(account, perm: str) -> bool:
    """Cheap check (one cached query per account and perm) for showing or hiding a menu."""
    if account is None or not getattr(account, "is_authenticated", False):
        return False
    return account.has_scoped_perm(perm)


def holds_at_root(account, perm: str) -> bool:
    """Superuser, or ``perm`` granted over a root region (the whole tree of that root)."""
    if account is None or not getattr(account, "is_authenticated", False) or not account.is_active:
        return False
    paths = account.scope_paths(perm)
    return paths is None or any(len(p) == Region.steplen for p in paths)


# ---- tokens --------------------------------------------------------------------------------------
def tokens_for(*, actor) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(account_id=actor.pk)


def token_get(*, actor, token_id: int) -> ApiToken:
    obj = ApiToken.objects.filter(account_id=actor.pk, pk=token_id).first()
    if obj is None:
        raise NotFound("token.not_found")
    return obj
