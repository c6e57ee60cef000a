"""Permission grants on the system roles, for data migrations (O2: roles are data).

A domain app that brings new permissions adds them to the existing default roles and may create
roles of its own. Each migration keeps its data spelled out (role codes, permission names): a
migration must not follow later edits of the Perm enum. This module holds only the mechanics,
so every domain grants and revokes the same way. It reads the historical ``orgs.Role`` through
``apps.get_model`` and imports no model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

RunPythonFn = Callable[[Any, Any], None]


def grant(
    add: Mapping[str, Iterable[str]],
    new: Sequence[tuple[str, str, str, Iterable[str]]] = (),
    *,
    revoke_prefix: str = "",
    revoke: Iterable[str] = (),
) -> tuple[RunPythonFn, RunPythonFn]:
    """``(forwards, backwards)`` for ``migrations.RunPython``.

    forwards: every existing role named in ``add`` gains those permissions (a role that does not
    exist is skipped); every ``(code, name, description, permissions)`` in ``new`` is created, or
    updated, as a system role. Running it twice changes nothing.

    backwards: the roles named in ``add`` lose every permission starting with ``revoke_prefix``
    (e.g. ``"parking."``) or listed in ``revoke``, exactly one of the two; the roles of ``new`` are
    deleted unless they are no longer system roles or someone holds them.
    """
    if bool(revoke_prefix) == bool(revoke):
        raise ValueError("give exactly one of revoke_prefix and revoke")
    adds = {code: frozenset(perms) for code, perms in add.items()}
    news = [(code, name, description, sorted(perms)) for code, name, description, perms in new]
    revoked = frozenset(revoke)

    def dropped(perm: str) -> bool:
        return perm.startswith(revoke_prefix) if revoke_prefix else perm in revoked

    def forwards(apps: Any, schema_editor: Any) -> None:
        Role = apps.get_model("orgs", "Role")
        for role in Role.objects.filter(code__in=list(adds)):
            role.permissions = sorted(set(role.permissions or []) | adds[role.code])
            role.save(update_fields=["permissions"])
        for code, name, description, perms in news:
            Role.objects.update_or_create(
                code=code,
                defaults={
                    "name": name,
                    "description": description,
                    "permissions": list(perms),
                    "is_system": True,
                },
            )

    def backwards(apps: Any, schema_editor: Any) -> None:
        Role = apps.get_model("orgs", "Role")
        for role in Role.objects.filter(code__in=list(adds)):
            role.permissions = sorted(p for p in (role.permissions or []) if not dropped(p))
            role.save(update_fields=["permissions"])
        if news:
            codes = [code for code, *_ in news]
            Role.objects.filter(code__in=codes, is_system=True, assignments__isnull=True).delete()

    return forwards, backwards
