"""Alarm notification tiers and escalation while nobody acknowledges (D4).

Tiers by the level at which a role holding ``alarm.view`` is assigned: 0 = the grid and its community
(the people on the spot), 1 = the street (街道), 2 = the district and city. A new alarm notifies the
first tier that has anyone, and the staff of the device's owner organisation who hold alarm.view there; an ``active`` alarm not acknowledged within the severity's delay
(``LINLI_ALARM_ESCALATE_MIN``) is escalated one tier by ``escalation_sweep`` and that tier is notified.
Acknowledging or clearing stops escalation. The sweep is idempotent: it locks due rows (skipping rows
another sweep holds), moves each one tier with a conditional UPDATE, and notifications are unique per
(account, alarm).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from linli.audit.services import record
from linli.orgs.holders import HolderCache
from linli.orgs.models import Role, RoleAssignment
from linli.places.models import Level, Region

from .models import Alarm, AlarmNotification, AlarmStatus
from .perms import IotPerm

TIERS: tuple[tuple[str, ...], ...] = ((Level.GRID, Level.COMMUNITY), (Level.STREET,), (Level.DISTRICT, Level.CITY))
TIER_LABELS = ("网格/社区", "街道", "区县")
MAX_LEVEL = len(TIERS) - 1
BATCH = 500


def delay_for(severity: str) -> dt.timedelta | None:
    minutes = int(getattr(settings, "LINLI_ALARM_ESCALATE_MIN", {}).get(severity, 0) or 0)
    return dt.timedelta(minutes=minutes) if minutes > 0 else None


def next_escalation(severity: str, level: int, since: dt.datetime) -> dt.datetime | None:
    delay = delay_for(severity)
    return since + delay if delay is not None and level < MAX_LEVEL else None


# Roles and who holds them change rarely; an alarm burst must not re-read them for every alarm
# (``linli.orgs.holders``: kept LINLI_ALARM_ROLES_TTL_S seconds, dropped on role/assignment/account writes).
ALARM_ROLES = HolderCache("LINLI_ALARM_ROLES_TTL_S", 5.0)  # None → ids of roles granting alarm.view
FIRST_TIERS = HolderCache("LINLI_ALARM_ROLES_TTL_S", 5.0)  # (grid path, owner org id) → (tier, accounts)


def _alarm_roles() -> list[int]:
    return ALARM_ROLES.get(None, lambda: ([pk for pk, perms in Role.objects.values_list("id", "permissions")
                                           if IotPerm.ALARM_VIEW in (perms or [])], None))


def reset_cache() -> None:
    """Forget which roles see alarms and who is told first per grid (tests; writes do it by themselves)."""
    ALARM_ROLES.clear()
    FIRST_TIERS.clear()


def tier_accounts(region_path: str, level: int) -> list[int]:
    """Active accounts holding alarm.view through a role assigned at an ancestor of ``region_path``
    (or the grid itself) whose region level belongs to tier ``level``."""
    roles = _alarm_roles()
    if not roles:
        return []
    prefixes = [region_path[:i] for i in range(Region.steplen, len(region_path) + 1, Region.steplen)]
    now = timezone.now()
    return list(
        RoleAssignment.objects.filter(role_id__in=roles, region__path__in=prefixes, region__level__in=TIERS[level], account__is_active=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .values_list("account_id", flat=True)
        .distinct()
    )


def owner_accounts(region_path: str, owner_org_id: int | None) -> list[int]:
    """Active staff of the device's owner organisation (e.g. the property company that runs it) who
    hold alarm.view over the device's grid: they are told from the start, whatever the tier."""
    if owner_org_id is None:
        return []
    roles = _alarm_roles()
    prefixes = [region_path[:i] for i in range(Region.steplen, len(region_path) + 1, Region.steplen)]
    now = timezone.now()
    return list(
        RoleAssignment.objects.filter(role_id__in=roles, region__path__in=prefixes, account__is_active=True,
                                      account__organisation_id=owner_org_id)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .values_list("account_id", flat=True)
        .distinct()
    ) if roles else []


def first_tier(region_path: str, owner_org_id: int | None = None) -> tuple[int, list[int]]:
    """The lowest tier with anyone to notify (0 when nobody at all), plus the owner organisation's
    responsible staff — kept per (grid, owner) in ``FIRST_TIERS``: an alarm burst in one grid asks the
    same question many times."""
    level, accounts = FIRST_TIERS.get((region_path, owner_org_id), lambda: (_first_tier(region_path, owner_org_id), None))
    return level, list(accounts)


def _first_tier(region_path: str, owner_org_id: int | None) -> tuple[int, list[int]]:
    owners = owner_accounts(region_path, owner_org_id)
    for level in range(len(TIERS)):
        accounts = tier_accounts(region_path, level)
        if accounts:
            return level, sorted(set(accounts) | set(owners))
    return 0, owners


def notify(alarm: Alarm, accounts: list[int]) -> int:
    rows = AlarmNotification.objects.bulk_create(
        [AlarmNotification(account_id=a, alarm=alarm) for a in accounts], ignore_conflicts=True
    )
    return len(rows)


def escalate_one(alarm: Alarm, now: dt.datetime) -> bool:
    """Move ``alarm`` (locked by the caller) one tier up and notify that tier."""
    if alarm.status != AlarmStatus.ACTIVE or alarm.escalation_level >= MAX_LEVEL:
        Alarm.objects.filter(pk=alarm.pk).update(next_escalation_at=None)
        return False
    path = alarm.region.path
    level = alarm.escalation_level + 1
    accounts = tier_accounts(path, level)
    while not accounts and level < MAX_LEVEL:  # nobody at this tier: go on up right away
        level += 1
        accounts = tier_accounts(path, level)
    before = {"escalation_level": alarm.escalation_level}
    alarm.escalation_level, alarm.escalated_at = level, now
    alarm.next_escalation_at = next_escalation(alarm.severity, level, now)
    alarm.save(update_fields=["escalation_level", "escalated_at", "next_escalation_at", "updated_at"])
    notify(alarm, accounts)
    record(actor=None, action="iot.alarm_escalate", obj=alarm, before=before,
           after={"escalation_level": level, "tier": TIER_LABELS[level], "notified": len(accounts)}, region_path=path)
    from linli.core import live

    live.publish("alarms", {"kind": "escalated", "id": alarm.pk, "region": path, "level": level})
    return True


def escalation_sweep(*, now: dt.datetime | None = None, batch: int = BATCH) -> dict[str, Any]:
    """Escalate every active alarm whose acknowledgement is overdue. Safe to run concurrently."""
    now = now or timezone.now()
    done = 0
    while True:
        with transaction.atomic():
            qs = (
                Alarm.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("region")
                .filter(status=AlarmStatus.ACTIVE, next_escalation_at__isnull=False, next_escalation_at__lte=now)
                .order_by("next_escalation_at", "id")[:batch]
            )
            rows = list(qs)
            for alarm in rows:
                done += escalate_one(alarm, now)
        if len(rows) < batch:
            return {"escalated": done}
