"""Reads for organisations, accounts and roles."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from .models import RoleAssignment


def grants_for_account(account) -> list[tuple[str, frozenset[str]]]:
    """(region path, permission names) for each active role assignment of ``account``."""
    now = timezone.now()
    rows = (
        RoleAssignment.objects.filter(account_id=account.pk)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .values_list("region__path", "role__permissions")
    )
    return [(path, frozenset(perms or [])) for path, perms in rows]
