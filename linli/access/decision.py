"""A3: the gate decision, answered from an in-process index (dict lookups, no ORM on the hot path).

The index is a cache of the database, never the source of truth. Every write that changes a decision
appends an ``AccessChange`` row in its transaction; ``max(id)`` is the version. Each process re-checks
at most every ``LINLI_ACCESS_CHECK_MS`` (default 200 ms) — a Redis counter read when LINLI_REDIS_URL
is set, else one primary-key range query — and applies the changes incrementally (one credential,
one invite…), rebuilding fully only for structural changes (gates, groups, rules, holidays). The
process that made a change re-checks at once (``poke``). Residency and role assignments belong to
other apps: they are fingerprinted every ``LINLI_ACCESS_EXTERNAL_CHECK_S`` (default 2 s) and the
changed persons reloaded.

Time windows are evaluated in Asia/Shanghai local time (UTC+8 all year, no DST).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from . import tokens

TZ = ZoneInfo("Asia/Shanghai")
HOLIDAY_BIT = 7
REDIS_KEY = "linli:access:bump"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    person_id: int | None = None
    credential_id: int | None = None
    invite_id: int | None = None
    gate_id: int | None = None
    region_id: int | None = None


@dataclass(slots=True)
class GateRow:
    id: int
    code: str
    group_id: int
    region_id: int
    active: bool
    path: str = ""  # the gate's region path: scopes its live events (linli.core.live) without a query


@dataclass(slots=True)
class GroupRow:
    id: int
    level: str
    estate_id: int
    building_id: int | None
    unit_id: int | None
    path: str
    active: bool
    resident_windows: list[tuple[int, int, int]] | None = None  # None = no rule: always
    staff_windows: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()


@dataclass(slots=True)
class CredRow:
    id: int
    person_id: int
    kind: str
    key: str
    status: str
    valid_from: float
    valid_until: float | None


@dataclass(slots=True)
class Entitlement:
    estate_id: int
    building_id: int
    unit_id: int | None
    relation: str
    since: dt.date
    until: dt.date | None  # tenants: lease_end (inclusive)


@dataclass(slots=True)
class InviteRow:
    id: int
    status: str
    valid_from: float
    valid_until: float
    group_ids: frozenset[int]
    host_person_id: int


def _ts(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _in_window(windows: list[tuple[int, int, int]], day_bit: int, prev_bit: int, minute: int) -> bool:
    for mask, start, end in windows:
        if start < end:
            if mask >> day_bit & 1 and start <= minute < end:
                return True
        elif (mask >> day_bit & 1 and minute >= start) or (mask >> prev_bit & 1 and minute < end):
            return True
    return False


class AccessIndex:
    """Everything a decision needs, keyed for O(1) lookups."""

    def __init__(self) -> None:
        self.version = 0
        self.gates: dict[str, GateRow] = {}
        self.gate_tokens: dict[str, str] = {}
        self.groups: dict[int, GroupRow] = {}
        self.creds: dict[tuple[str, str], CredRow] = {}
        self.creds_by_id: dict[int, CredRow] = {}
        self.ents: dict[int, list[Entitlement]] = {}
        self.staff: dict[int, list[tuple[int, str, float | None]]] = {}
        self.person_blocks: dict[int, list[tuple[int | None, str, float, float | None]]] = {}
        self.group_blocks: dict[int, list[tuple[float, float | None]]] = {}
        self.invites: dict[int, InviteRow] = {}
        self.external: tuple = ()

    # ---- loading (all ORM lives below here, off the hot path) --------------------------------
    @classmethod
    def from_database(cls) -> AccessIndex:
        from .models import AccessChange

        idx = cls()
        idx.version = AccessChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
        idx.external = external_fingerprint()
        idx._load_structure()
        idx._load_credentials(None)
        idx._load_entitlements(None)
        idx._load_staff()
        idx._load_blocks()
        idx._load_invites(None)
        return idx

    def _load_structure(self) -> None:
        from .models import AccessHoliday, AccessRule, Audience, Gate, GateGroup

        groups: dict[int, GroupRow] = {}
        for gid, level, estate_id, building_id, unit_id, path, active in GateGroup.objects.order_by().values_list(
                "id", "level", "estate_id", "building_id", "unit_id", "region__path", "is_active"):
            groups[gid] = GroupRow(gid, level, estate_id, building_id, unit_id, path, active)
        for gid, audience, role_id, mask, start, end in AccessRule.objects.order_by("id").values_list(
                "group_id", "audience", "role_id", "weekdays", "start_minute", "end_minute"):
            g = groups.get(gid)
            if g is None:
                continue
            if audience == Audience.RESIDENTS:
                g.resident_windows = (g.resident_windows or []) + [(mask, start, end)]
            else:
                g.staff_windows.setdefault(role_id, []).append((mask, start, end))
        holidays = list(AccessHoliday.objects.order_by().values_list("region__path", "date"))
        if holidays:
            for g in groups.values():
                g.holidays = frozenset(d for p, d in holidays if g.path.startswith(p))
        gates: dict[str, GateRow] = {}
        tokens_: dict[str, str] = {}
        for gid, code, group_id, region_id, active, token_hash, path in Gate.objects.order_by().values_list(
                "id", "code", "group_id", "region_id", "is_active", "token_hash", "region__path"):
            gates[code] = GateRow(gid, code, group_id, region_id, active, path)
            tokens_[token_hash] = code
        self.groups, self.gates, self.gate_tokens = groups, gates, tokens_

    def _load_credentials(self, ids: list[int] | None) -> None:
        from .models import Credential, CredentialStatus

        qs = Credential.objects.order_by("id")
        if ids is not None:
            qs = qs.filter(id__in=ids)
            for cid in ids:
                old = self.creds_by_id.pop(cid, None)
                if old is not None and self.creds.get((old.kind, old.key)) is old:
                    del self.creds[(old.kind, old.key)]
        for cid, person_id, kind, key, status, vf, vu in qs.values_list(
                "id", "person_id", "kind", "secret_index", "status", "valid_from", "valid_until").iterator(chunk_size=5000):
            row = CredRow(cid, person_id, kind, key, status, vf.timestamp(), _ts(vu))
            self.creds_by_id[cid] = row
            if key:
                current = self.creds.get((kind, key))
                # A live credential wins over a revoked one with the same number.
                if current is None or current.status == CredentialStatus.REVOKED or status != CredentialStatus.REVOKED:
                    self.creds[(kind, key)] = row

    def _load_entitlements(self, person_ids: list[int] | None) -> None:
        from linli.people.models import Residency

        qs = Residency.objects.order_by().filter(move_out__isnull=True)
        if person_ids is not None:
            qs = qs.filter(person_id__in=person_ids)
            for pid in person_ids:
                self.ents.pop(pid, None)
        ents = self.ents
        for pid, estate_id, building_id, unit_id, relation, since, lease_end in qs.values_list(
                "person_id", "house__building__estate_id", "house__building_id", "house__unit_id", "relation", "move_in",
                "lease_end").iterator(chunk_size=10000):
            ents.setdefault(pid, []).append(
                Entitlement(estate_id, building_id, unit_id, relation, since, lease_end if relation == "tenant" else None))

    def _load_staff(self) -> None:
        from linli.orgs.models import RoleAssignment

        role_ids = {r for g in self.groups.values() for r in g.staff_windows}
        staff: dict[int, list[tuple[int, str, float | None]]] = {}
        if role_ids:
            for pid, role_id, path, until in RoleAssignment.objects.order_by().filter(
                    role_id__in=role_ids, account__person__isnull=False, account__is_active=True).values_list(
                    "account__person_id", "role_id", "region__path", "valid_until"):
                staff.setdefault(pid, []).append((role_id, path, _ts(until)))
        self.staff = staff

    def _load_blocks(self) -> None:
        from django.db.models import Q
        from django.utils import timezone

        from .models import AccessBlock

        person_blocks: dict[int, list] = {}
        group_blocks: dict[int, list] = {}
        for pid, gid, path, start, end in AccessBlock.objects.order_by().filter(lifted_at__isnull=True).filter(
                Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now())).values_list(
                "person_id", "group_id", "region__path", "starts_at", "ends_at"):
            if pid is not None:
                person_blocks.setdefault(pid, []).append((gid, path, start.timestamp(), _ts(end)))
            else:
                group_blocks.setdefault(gid, []).append((start.timestamp(), _ts(end)))
        self.person_blocks, self.group_blocks = person_blocks, group_blocks

    def _load_invites(self, ids: list[int] | None) -> None:
        from django.utils import timezone

        from .models import InviteStatus, VisitorInvite

        qs = VisitorInvite.objects.order_by()
        if ids is None:
            qs = qs.filter(status=InviteStatus.CONFIRMED, valid_until__gt=timezone.now())
        else:
            qs = qs.filter(id__in=ids)
            for i in ids:
                self.invites.pop(i, None)
        for iid, status, vf, vu, groups, host in qs.values_list("id", "status", "valid_from", "valid_until", "group_ids", "host_person_id"):
            self.invites[iid] = InviteRow(iid, status, vf.timestamp(), vu.timestamp(), frozenset(groups or ()), host)

    def apply_changes(self) -> bool:
        """Catch up with the change log; False when a full rebuild is needed."""
        from .models import AccessChange

        rows = list(AccessChange.objects.filter(id__gt=self.version).order_by("id").values_list("id", "entity", "entity_id")[:5000])
        if not rows:
            return True
        if len(rows) == 5000 or any(e == "all" for _, e, _ in rows):
            return False
        by: dict[str, list[int]] = {}
        for _, entity, eid in rows:
            by.setdefault(entity, []).append(eid)
        if "credential" in by:
            self._load_credentials(sorted(set(by["credential"])))
        if "block" in by:
            self._load_blocks()
        if "visitor" in by:
            self._load_invites(sorted(set(by["visitor"])))
        if "person" in by:
            self._load_entitlements(sorted(set(by["person"])))
        self.version = rows[-1][0]
        return True

    def apply_external(self, fp: tuple) -> bool:
        """Residency / role-assignment changes made by other apps; False when a rebuild is needed."""
        from linli.people.models import Residency

        old = self.external
        self.external = fp
        if not old or fp[0] < old[0]:
            return False
        if fp[:2] != old[:2] and old[1] is not None:
            pids = list(Residency.objects.order_by().filter(updated_at__gte=old[1]).values_list("person_id", flat=True).distinct())
            self._load_entitlements(pids)
        elif fp[:2] != old[:2]:
            return False
        if fp[2:] != old[2:]:
            self._load_staff()
        return True

    # ---- the decision (pure: dicts and arithmetic) ------------------------------------------
    def decide(self, *, gate_code: str, credential_kind: str, credential_value: str, at: dt.datetime | None = None) -> Decision:
        gate = self.gates.get(gate_code)
        if gate is None:
            return Decision(False, "unknown_gate")
        g = self.groups.get(gate.group_id)
        base = {"gate_id": gate.id, "region_id": gate.region_id}
        if not gate.active or g is None or not g.active:
            return Decision(False, "gate_inactive", **base)
        at = at or dt.datetime.now(dt.UTC)
        now = at.timestamp()
        for start, end in self.group_blocks.get(g.id, ()):
            if start <= now and (end is None or now < end):
                return Decision(False, "group_blocked", **base)
        local = at.astimezone(TZ)
        if credential_kind == "qr":
            try:
                claims = tokens.qr_verify(credential_value, now=now)
            except tokens.QrError as exc:
                return Decision(False, exc.reason, **base)
            if claims.group_ids is not None and g.id not in claims.group_ids:
                return Decision(False, "qr_scope", person_id=claims.person_id, **base)
            if claims.type == "v":
                inv = self.invites.get(claims.id)
                if inv is None or inv.status != "confirmed":
                    return Decision(False, "visitor_not_valid", invite_id=claims.id, **base)
                if not inv.valid_from <= now < inv.valid_until:
                    return Decision(False, "visitor_outside_window", invite_id=claims.id, **base)
                if g.id not in inv.group_ids:
                    return Decision(False, "not_entitled", invite_id=claims.id, **base)
                return Decision(True, "visitor", invite_id=claims.id, **base)
            cred = self.creds_by_id.get(claims.id)
            if cred is None or cred.kind != "qr" or cred.person_id != claims.person_id:
                return Decision(False, "unknown_credential", **base)
        else:
            if credential_kind not in ("card", "pin", "face", "fingerprint") or not credential_value:
                return Decision(False, "unknown_credential", **base)
            cred = self.creds.get((credential_kind, tokens.secret_index(credential_kind, credential_value)))
            if cred is None:
                return Decision(False, "unknown_credential", **base)
        who = {"person_id": cred.person_id, "credential_id": cred.id, **base}
        if cred.status != "active":
            return Decision(False, f"credential_{cred.status}", **who)
        if now < cred.valid_from:
            return Decision(False, "credential_not_yet_valid", **who)
        if cred.valid_until is not None and now >= cred.valid_until:
            return Decision(False, "credential_expired", **who)
        for gid, _path, start, end in self.person_blocks.get(cred.person_id, ()):
            if start <= now and (end is None or now < end) and (gid is None or gid == g.id):
                return Decision(False, "blocked", **who)
        return self._entitled(g, cred.person_id, local, now, who)

    def _entitled(self, g: GroupRow, person_id: int, local: dt.datetime, now: float, who: dict[str, Any]) -> Decision:
        today = local.date()
        yesterday = today - dt.timedelta(days=1)
        day_bit = HOLIDAY_BIT if today in g.holidays else local.weekday()
        prev_bit = HOLIDAY_BIT if yesterday in g.holidays else yesterday.weekday()
        minute = local.hour * 60 + local.minute
        reason = "not_entitled"
        for e in self.ents.get(person_id, ()):
            if g.level == "estate":
                match = e.estate_id == g.estate_id
            elif g.level == "building":
                match = e.building_id == g.building_id
            else:
                match = e.unit_id == g.unit_id
            if not match or e.since > today:
                continue
            if e.until is not None and today > e.until:
                reason = "lease_ended"
                continue
            if g.resident_windows is not None and not _in_window(g.resident_windows, day_bit, prev_bit, minute):
                reason = "outside_time_window"
                continue
            return Decision(True, "tenant" if e.relation == "tenant" else "resident", **who)
        for role_id, path, until in self.staff.get(person_id, ()):
            windows = g.staff_windows.get(role_id)
            if windows is None or not g.path.startswith(path) or (until is not None and now >= until):
                continue
            if _in_window(windows, day_bit, prev_bit, minute):
                return Decision(True, "staff", **who)
            reason = "outside_time_window"
        return Decision(False, reason, **who)


# ---- freshness --------------------------------------------------------------------------------


def external_fingerprint() -> tuple:
    from django.db.models import Count, Max

    from linli.orgs.models import RoleAssignment
    from linli.people.models import Residency

    r = Residency.objects.order_by().aggregate(n=Count("id"), last=Max("updated_at"))
    a = RoleAssignment.objects.order_by().aggregate(n=Count("id"), last=Max("updated_at"))
    return (r["n"], r["last"], a["n"], a["last"])


def _redis():
    url = os.environ.get("LINLI_REDIS_URL") or getattr(settings, "LINLI_REDIS_URL", "")
    if not url:
        return None
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(url, socket_timeout=0.05, socket_connect_timeout=0.05)
    return _redis_client


_redis_client = None
_lock = threading.Lock()
_index: AccessIndex | None = None
_checked_at = float("-inf")
_external_at = float("-inf")
_bump_seen: int | None = None


def _intervals() -> tuple[float, float]:
    check = float(getattr(settings, "LINLI_ACCESS_CHECK_MS", os.environ.get("LINLI_ACCESS_CHECK_MS", 200))) / 1000
    external = float(getattr(settings, "LINLI_ACCESS_EXTERNAL_CHECK_S", os.environ.get("LINLI_ACCESS_EXTERNAL_CHECK_S", 2)))
    return check, external


def _version_moved() -> bool:
    """Cheap check first: the Redis counter (when configured); without Redis, always ask the DB."""
    global _bump_seen
    r = _redis()
    if r is None:
        return True
    try:
        value = int(r.get(REDIS_KEY) or 0)
    except Exception:
        return True
    moved = value != _bump_seen
    _bump_seen = value
    return moved


def get_index() -> AccessIndex:
    global _index, _checked_at, _external_at
    check, external = _intervals()
    now = time.monotonic()
    index = _index
    if index is not None and now - _checked_at < check:
        return index
    with _lock:
        now = time.monotonic()
        if _index is not None and now - _checked_at < check:
            return _index
        if _index is None:
            _index = AccessIndex.from_database()
            _external_at = now
        else:
            ok = True
            # The Redis counter is a hint; the change log in the database is re-read at least every
            # external interval too, so a lost increment costs seconds, not correctness forever.
            if _version_moved() or now - _external_at >= external:
                ok = _index.apply_changes()
            if ok and now - _external_at >= external:
                fp = external_fingerprint()
                if fp != _index.external:
                    ok = _index.apply_external(fp)
                _external_at = now
            if not ok:
                _index = AccessIndex.from_database()
                _external_at = now
        _checked_at = time.monotonic()
        return _index


def poke() -> None:
    """Re-check on the next decision in this process (after a local write committed)."""
    global _checked_at, _bump_seen
    _checked_at = float("-inf")
    _bump_seen = None


def invalidate() -> None:
    """Drop the index (tests, or after a bulk load outside the services)."""
    global _index, _external_at
    with _lock:
        _index = None
        _external_at = float("-inf")
    poke()


def signal_change() -> None:
    """After commit: tell other processes (Redis) and this one (poke) that the version moved."""
    r = _redis()
    if r is not None:
        with contextlib.suppress(Exception):
            r.incr(REDIS_KEY)
    poke()


def decide(*, gate_code: str, credential_kind: str, credential_value: str, at: dt.datetime | None = None) -> Decision:
    """Allow or deny, with a reason, in microseconds (A3)."""
    return get_index().decide(gate_code=gate_code, credential_kind=credential_kind, credential_value=credential_value, at=at)


def gate_for_token(token_hash: str) -> GateRow | None:
    index = get_index()
    code = index.gate_tokens.get(token_hash)
    return index.gates.get(code) if code else None
