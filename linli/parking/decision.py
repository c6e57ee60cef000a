"""K2/K3: plate entry pre-decisions from an in-process index (dict lookups, no ORM on the hot path).

Same design as ``linli.access.decision``: the index caches lots (token → lot, billing terms, overuse
policy), active plate flags and active passes by plate. Every write that changes them appends a
``ParkingChange`` row; each process re-checks the change log at most every
``LINLI_PARKING_CHECK_MS`` (default 200 ms) and applies flag/pass changes incrementally (lots and
rules: full rebuild); the writing process re-checks at once (``poke``).

What the index cannot know — which cars are inside now — lives only in the database
(``ParkingSession`` with its one-open-session constraint); ``services.plate_entry`` combines both.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from . import plates
from .billing import Terms


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    amount_due_fen: int = 0
    session_id: int | None = None


@dataclass(slots=True)
class LotRow:
    id: int
    code: str
    region_id: int
    path: str
    active: bool
    terms: Terms | None
    overuse_policy: str
    grace_s: int
    estate_id: int | None = None


@dataclass(slots=True)
class FlagRow:
    id: int
    plate: str
    path: str
    kind: str
    reason: str


@dataclass(slots=True)
class PassRow:
    id: int
    lot_id: int
    person_id: int
    plates: tuple[str, ...]
    valid_from: float
    valid_until: float
    max_inside: int
    space_id: int | None
    zone_id: int | None


@dataclass(frozen=True, slots=True)
class Pre:
    """What the index says about a plate at a lot before the database state (cars inside) is consulted."""

    allowed: bool
    reason: str
    lot: LotRow | None = None
    flag: FlagRow | None = None
    pass_row: PassRow | None = None


class ParkingIndex:
    def __init__(self) -> None:
        self.version = 0
        self.lots: dict[int, LotRow] = {}
        self.lot_tokens: dict[str, int] = {}
        self.flags: dict[str, list[FlagRow]] = {}
        self.flags_by_id: dict[int, FlagRow] = {}
        self.passes: dict[str, list[PassRow]] = {}
        self.passes_by_id: dict[int, PassRow] = {}
        # K6: (lot, plate) of shared-space bookings not yet entered — only these pay for a booking
        # lookup at the barrier; every other visitor's entry stays two INSERTs.
        self.booked: dict[int, tuple[int, str]] = {}
        self.booked_keys: set[tuple[int, str]] = set()

    # ---- loading (ORM only here) ----------------------------------------------------------
    @classmethod
    def from_database(cls) -> ParkingIndex:
        from .models import BillingRule, ParkingChange, ParkingLot

        idx = cls()
        idx.version = ParkingChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
        rules = {r.pk: Terms.of(r) for r in BillingRule.objects.all()}
        for lid, code, region_id, path, active, rule_id, policy, grace, token_hash, estate_id in ParkingLot.objects.order_by().values_list(
                "id", "code", "region_id", "region__path", "is_active", "rule_id", "overuse_policy", "exit_grace_minutes", "token_hash",
                "estate_id"):
            idx.lots[lid] = LotRow(lid, code, region_id, path, active, rules.get(rule_id), policy, grace * 60, estate_id)
            idx.lot_tokens[token_hash] = lid
        idx._load_flags(None)
        idx._load_passes(None)
        idx._load_bookings(None)
        return idx

    def _load_bookings(self, ids: list[int] | None) -> None:
        from .models import BookingStatus, ShareBooking

        qs = ShareBooking.objects.order_by()
        if ids is None:
            self.booked.clear()
            qs = qs.filter(status=BookingStatus.BOOKED)
        else:
            for i in ids:
                self.booked.pop(i, None)
            qs = qs.filter(pk__in=ids, status=BookingStatus.BOOKED)
        for bid, lot_id, plate in qs.values_list("id", "lot_id", "plate"):
            self.booked[bid] = (lot_id, plate)
        self.booked_keys = set(self.booked.values())

    def may_have_booking(self, lot_id: int, plate: str) -> bool:
        return (lot_id, plate) in self.booked_keys

    def _load_flags(self, ids: list[int] | None) -> None:
        from .models import PlateFlag

        qs = PlateFlag.objects.order_by("id").filter(is_active=True)
        if ids is not None:
            qs = qs.filter(id__in=ids)
            for fid in ids:
                old = self.flags_by_id.pop(fid, None)
                if old is not None:
                    self.flags[old.plate] = [f for f in self.flags.get(old.plate, ()) if f.id != fid]
        for fid, plate, path, kind, reason in qs.values_list("id", "plate", "region__path", "kind", "reason"):
            row = FlagRow(fid, plate, path, kind, reason)
            self.flags_by_id[fid] = row
            self.flags.setdefault(plate, []).append(row)

    def _load_passes(self, ids: list[int] | None) -> None:
        from .models import ParkingPass, PassStatus

        qs = ParkingPass.objects.order_by("id").filter(status=PassStatus.ACTIVE)
        if ids is not None:
            qs = qs.filter(id__in=ids)
            for pid in ids:
                old = self.passes_by_id.pop(pid, None)
                if old is not None:
                    for p in old.plates:
                        self.passes[p] = [r for r in self.passes.get(p, ()) if r.id != pid]
        for pid, lot_id, person_id, plates_, vf, vu, mx, space_id, zone_id in qs.values_list(
                "id", "lot_id", "person_id", "plates", "valid_from", "valid_until", "max_inside", "space_id", "space__zone_id"
        ).iterator(chunk_size=5000):
            row = PassRow(pid, lot_id, person_id, tuple(plates_), vf.timestamp(), vu.timestamp(), mx, space_id, zone_id)
            self.passes_by_id[pid] = row
            for p in row.plates:
                self.passes.setdefault(p, []).append(row)

    def apply_changes(self) -> bool:
        from .models import ParkingChange

        rows = list(ParkingChange.objects.filter(id__gt=self.version).order_by("id").values_list("id", "entity", "entity_id")[:5000])
        if not rows:
            return True
        if len(rows) == 5000 or any(e == "all" for _, e, _ in rows):
            return False
        by: dict[str, set[int]] = {}
        for _, entity, eid in rows:
            by.setdefault(entity, set()).add(eid)
        if "flag" in by:
            self._load_flags(sorted(by["flag"]))
        if "pass" in by:
            self._load_passes(sorted(by["pass"]))
        if "booking" in by:
            self._load_bookings(sorted(by["booking"]))
        self.version = rows[-1][0]
        return True

    # ---- the decision (pure) ----------------------------------------------------------------
    def pre_entry(self, *, lot_id: int, plate: str, at: dt.datetime) -> Pre:
        lot = self.lots.get(lot_id)
        if lot is None:
            return Pre(False, "unknown_lot")
        if not lot.active:
            return Pre(False, "lot_inactive", lot)
        if not plates.is_valid(plate):
            return Pre(False, "plate_invalid", lot)
        watch = None
        for f in self.flags.get(plate, ()):
            if lot.path.startswith(f.path):
                if f.kind != "watch":
                    return Pre(False, f"plate_{f.kind}", lot, f)
                watch = f
        now = at.timestamp()
        best = None
        for p in self.passes.get(plate, ()):
            if p.lot_id == lot_id and p.valid_from <= now < p.valid_until:
                best = p
                break
        if best is not None:
            return Pre(True, "pass", lot, watch, best)
        return Pre(True, "visitor", lot, watch)


_lock = threading.Lock()
_index: ParkingIndex | None = None
_checked_at = float("-inf")


def _interval() -> float:
    return float(getattr(settings, "LINLI_PARKING_CHECK_MS", os.environ.get("LINLI_PARKING_CHECK_MS", 200))) / 1000


def get_index() -> ParkingIndex:
    global _index, _checked_at
    now = time.monotonic()
    index = _index
    if index is not None and now - _checked_at < _interval():
        return index
    with _lock:
        if _index is not None and time.monotonic() - _checked_at < _interval():
            return _index
        if _index is None or not _index.apply_changes():
            _index = ParkingIndex.from_database()
        _checked_at = time.monotonic()
        return _index


def poke() -> None:
    """Re-check the change log on the next decision in this process (after a local commit)."""
    global _checked_at
    _checked_at = float("-inf")


def invalidate() -> None:
    global _index
    with _lock:
        _index = None
    poke()


def lot_for_token(token_hash: str) -> LotRow | None:
    index = get_index()
    lid = index.lot_tokens.get(token_hash)
    return index.lots.get(lid) if lid is not None else None
