"""Permission and scope checks for people (H1–H3), shared by services and selectors.

Rule (O2): an object outside every scope the actor could see it through is a 404; an object the
actor can see but may not change is a 403 with a machine code.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, Subquery

from linli.core.errors import Forbidden, NotFound
from linli.core.i18n import Msg
from linli.core.scoping import path_in_scope, scope_q
from linli.orgs.perms import Perm
from linli.places.models import Region

FORBIDDEN_MSG = Msg("没有执行此操作的权限", "You do not have permission for this action")


def paths_for(actor: Any, perm: str) -> list[str] | None:
    """Scope paths of ``actor`` for ``perm`` ([] for anonymous or inactive actors; None = everywhere)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", True):
        return []
    return actor.scope_paths(perm)


def has_perm_at(actor: Any, perm: str, path: str) -> bool:
    return path_in_scope(path, paths_for(actor, perm))


def has_perm_anywhere(actor: Any, perm: str) -> bool:
    paths = paths_for(actor, perm)
    return paths is None or bool(paths)


def check_perm_at(actor: Any, perm: str, path: str, *, visible_via: tuple[str, ...] = (Perm.PERSON_VIEW,),
                  code: str = "permission.denied") -> None:
    """Pass if ``actor`` holds ``perm`` over ``path``; 403 if it can see the object via ``visible_via``; else 404."""
    if has_perm_at(actor, perm, path):
        return
    if any(has_perm_at(actor, p, path) for p in visible_via):
        raise Forbidden(code, FORBIDDEN_MSG, detail={"permission": str(perm)})
    raise NotFound()


def in_scope(qs: QuerySet, actor: Any, perm: str, region_field: str) -> QuerySet:
    """Restrict ``qs`` to rows whose ``region_field`` lies in the actor's subtrees for ``perm``.

    Same meaning as ``for_actor`` but phrased as ``region_id IN (SELECT id FROM region WHERE path LIKE …)``
    so PostgreSQL can drive the plan from the (region, id) index instead of joining the region table
    and OR-ing LIKE conditions row by row (1M-person lists, H1 benchmark).
    """
    paths = paths_for(actor, perm)
    if paths is None:
        return qs
    if not paths:
        return qs.none()
    regions = Region.objects.filter(scope_q(Region, paths)).order_by().values("id")
    return qs.filter(**{f"{region_field}_id__in": regions})


def subtree_ids(region_id: int) -> QuerySet:
    """Subquery of the ids of ``region_id`` and all its descendants (no extra round trip)."""
    root = Region.objects.order_by().filter(pk=region_id).values("path")[:1]
    return Region.objects.order_by().filter(path__startswith=Subquery(root)).values("id")


def scope_region_ids(actor: Any, perm: str, *, within: int | None = None) -> list[int] | None:
    """Ids of the regions where ``actor`` holds ``perm`` (optionally only under region ``within``), resolved
    up front in one small query on the region table; None = unrestricted.

    Big tables then filter on a literal ``region_id IN (…)``: PostgreSQL estimates it from statistics and,
    for a single grid, walks the (region, id) index backwards in id order — no join, no sort.
    """
    paths = paths_for(actor, perm)
    if paths is not None and not paths:
        return []
    if paths is None and within is None:
        return None
    qs = Region.objects.order_by()
    if paths is not None:
        qs = qs.filter(scope_q(Region, paths))
    if within is not None:
        qs = qs.filter(path__startswith=Subquery(Region.objects.order_by().filter(pk=within).values("path")[:1]))
    return list(qs.values_list("id", flat=True))
