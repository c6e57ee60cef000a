"""Scoped reads (O2): every tenant read goes through ``Model.objects.for_actor(actor, perm)``.

Scope is a subtree of the places tree. An actor exposes ``scope_paths(perm) -> list[str] | None``
(treebeard materialised paths of the regions where it holds ``perm``; ``None`` means everywhere).
A scoped model names the lookup to its region with ``SCOPE_FIELD`` (``"region"`` →
``region__path__startswith``; ``""`` for the region model itself). Objects outside the scope are
simply not in the queryset, so detail views answer 404, never 403. core imports no domain app.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.db import models
from django.db.models import Q


class Actor(Protocol):
    def scope_paths(self, perm: str) -> list[str] | None: ...


def scope_q(model: type[models.Model], paths: list[str] | None, *, field: str | None = None) -> Q | None:
    """Q matching rows in any of the subtrees; None = unrestricted; Q(pk__in=[]) = nothing."""
    if paths is None:
        return None
    scope_field = getattr(model, "SCOPE_FIELD", None) if field is None else field
    if scope_field is None:
        raise TypeError(f"{model.__name__} has no SCOPE_FIELD")
    lookup = f"{scope_field}__path__startswith" if scope_field else "path__startswith"
    q = Q(pk__in=[])
    for path in _minimal(paths):
        q |= Q(**{lookup: path})
    return q


def _minimal(paths: list[str]) -> list[str]:
    """Drop paths already covered by an ancestor path (fewer OR terms)."""
    out: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p.startswith(a) for a in out):
            out.append(p)
    return out


def path_in_scope(path: str, paths: list[str] | None) -> bool:
    return paths is None or any(path.startswith(p) for p in paths)


class ScopedQuerySet(models.QuerySet):
    def for_actor(self, actor: Any, perm: str) -> ScopedQuerySet:
        if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", True):
            return self.none()
        q = scope_q(self.model, actor.scope_paths(perm))
        return self if q is None else self.filter(q)


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)
