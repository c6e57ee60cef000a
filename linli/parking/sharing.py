"""K6 共享车位: owners publish idle windows of their private space; neighbours book and pay; the owner
is credited (minus the platform/property share configured per lot); no two active bookings of one
space overlap (a database constraint, see ``overlap.py``); entry/exit hooks, no-shows and overstays.

Writes are keyword-only and atomic, scope/ownership checked first (not yours ⇒ 404), audited. Reads
for residents are their own rows; staff reads go through ``for_actor``. All instants are aware; local
times (Asia/Shanghai, UTC+8 all year, no DST) are only a matter of display and form input.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from linli.audit.services import record, snapshot
from linli.core.errors import Conflict, Invalid, NotFound
from linli.core.i18n import Msg
from linli.orgs.perms import check_perm_at, covers
from linli.people.models import Person

from .models import (
    BookingStatus,
    LedgerEntry,
    LedgerKind,
    ParkingLot,
    PriceMode,
    ShareBooking,
    ShareWindow,
    SharingTerms,
    Space,
    SpaceKind,
    WindowStatus,
)
from .overlap import book
from .perms import ParkingPerm as P
from .services import changed, check_is_resident, plate_or_invalid

MAX_WINDOW = dt.timedelta(days=31)
MIN_BOOKING = dt.timedelta(minutes=15)
MAX_GRACE = dt.timedelta(minutes=240)  # the largest grace a lot may configure (terms_set)
SHAREABLE = (SpaceKind.OWNED, SpaceKind.RENTED, SpaceKind.SHARED)


def _minute(t: dt.datetime) -> dt.datetime:
    if timezone.is_naive(t):
        raise Invalid("sharing.naive_time", Msg("时间须带时区", "Times must carry a time zone"))
    return t.replace(second=0, microsecond=0)


def _path(lot_id: int) -> str:
    return ParkingLot.objects.values_list("region__path", flat=True).get(pk=lot_id)


def terms_for(lot_id: int) -> SharingTerms:
    """The lot's settlement terms (defaults when none are configured: no share, no fees, 15 min grace)."""
    return SharingTerms.objects.filter(lot_id=lot_id).first() or SharingTerms(lot_id=lot_id)


@transaction.atomic
def terms_set(*, actor: Any, lot: ParkingLot, platform_permille: int, grace_minutes: int, no_show_fen: int,
              overstay_fen_per_hour: int) -> SharingTerms:
    path = _path(lot.pk)
    check_perm_at(actor, P.MANAGE, path, code="parking.lot_not_found")
    if not 0 <= platform_permille <= 1000 or not 0 <= grace_minutes <= 240 or no_show_fen < 0 or overstay_fen_per_hour < 0:
        raise Invalid("sharing.terms_range", Msg("结算规则取值超出范围", "Settlement terms out of range"))
    terms, _ = SharingTerms.objects.select_for_update().get_or_create(lot_id=lot.pk)
    before = snapshot(terms)
    terms.platform_permille, terms.grace_minutes = platform_permille, grace_minutes
    terms.no_show_fen, terms.overstay_fen_per_hour = no_show_fen, overstay_fen_per_hour
    terms.save()
    record(actor=actor, action="sharing.terms_set", obj=terms, before=before, after=snapshot(terms), region_path=path)
    return terms


# ---- windows ----------------------------------------------------------------------------------------


@transaction.atomic
def window_publish(*, actor: Any, space: Space, start_at: dt.datetime, end_at: dt.datetime, price_fen: int,
                   price_mode: str = PriceMode.HOURLY, now: dt.datetime | None = None) -> ShareWindow:
    """The owner (or tenant) of a private space offers it from ``start_at`` to ``end_at``."""
    pid = check_is_resident(actor)
    space = Space.objects.select_for_update().filter(pk=space.pk).first()
    if space is None or space.owner_id != pid:
        raise NotFound("sharing.space_not_found")
    if space.kind not in SHAREABLE:
        raise Invalid("sharing.space_not_private", Msg("只有产权或租赁车位可以共享", "Only owned or rented spaces can be shared"))
    start_at, end_at, now = _minute(start_at), _minute(end_at), now or timezone.now()
    if end_at <= start_at or end_at - start_at > MAX_WINDOW:
        raise Invalid("sharing.window_range", Msg("结束须晚于开始，且时段不超过31天", "The window must end after it starts and last at most 31 days"))
    if end_at <= now:
        raise Invalid("sharing.window_past", Msg("不能发布已经过去的时段", "The window is already over"))
    if price_mode not in PriceMode.values or not 0 <= price_fen <= 1_000_000:
        raise Invalid("sharing.price_invalid", Msg("价格无效", "Invalid price"), detail={"modes": list(PriceMode.values)})
    if ShareWindow.objects.filter(space=space, status=WindowStatus.OPEN, start_at__lt=end_at, end_at__gt=start_at).exists():
        raise Conflict("sharing.window_overlap", Msg("与您已发布的时段重叠", "Overlaps a window you already published"))
    w = ShareWindow.objects.create(space=space, lot_id=space.lot_id, owner_id=pid, start_at=start_at, end_at=end_at,
                                   price_mode=price_mode, price_fen=price_fen)
    record(actor=actor, action="sharing.window_publish", obj=w, after=snapshot(w), region_path=_path(space.lot_id))
    return w


@transaction.atomic
def window_withdraw(*, actor: Any, window: ShareWindow) -> ShareWindow:
    """No new bookings in this window; bookings already made stay valid."""
    w = ShareWindow.objects.select_for_update().get(pk=window.pk)
    path = _path(w.lot_id)
    own_or_staff(actor, w.owner_id, P.MANAGE, path, "sharing.window_not_found")
    if w.status != WindowStatus.WITHDRAWN:
        before = snapshot(w)
        w.status = WindowStatus.WITHDRAWN
        w.save(update_fields=["status", "updated_at"])
        record(actor=actor, action="sharing.window_withdraw", obj=w, before=before, after=snapshot(w), region_path=path)
    return w


def price_for(window: ShareWindow, start_at: dt.datetime, end_at: dt.datetime) -> int:
    """Hourly: pro rata per started minute (rounded up to a fen); flat: the window's price."""
    if window.price_mode == PriceMode.FLAT:
        return window.price_fen
    minutes = -(-int((end_at - start_at).total_seconds()) // 60)
    return -(-minutes * window.price_fen // 60)


# ---- bookings ---------------------------------------------------------------------------------------


def _near(person_path: str) -> Q:
    """Lots whose region contains the resident's home region (their community, street …)."""
    return Q(lot__region__path__in=[person_path[:i] for i in range(4, len(person_path) + 1, 4)])


def _overlap_conflict() -> Conflict:
    return Conflict("sharing.slot_taken", Msg("该时段已被预约", "This time is already booked"))


@transaction.atomic
def booking_create(*, actor: Any, window: ShareWindow, plate: str, start_at: dt.datetime, end_at: dt.datetime,
                   now: dt.datetime | None = None) -> ShareBooking:
    pid = check_is_resident(actor)
    person_path = Person.objects.values_list("region__path", flat=True).get(pk=pid)
    w = ShareWindow.objects.filter(_near(person_path), pk=window.pk).select_related("space").first()
    if w is None:
        raise NotFound("sharing.window_not_found")
    if w.owner_id == pid:
        raise Invalid("sharing.own_space", Msg("不能预约自己的车位", "You cannot book your own space"))
    if w.status != WindowStatus.OPEN:
        raise Conflict("sharing.window_closed", Msg("该时段已撤回", "This window has been withdrawn"))
    start_at, end_at, now = _minute(start_at), _minute(end_at), now or timezone.now()
    if not (w.start_at <= start_at and end_at <= w.end_at) or end_at - start_at < MIN_BOOKING:
        raise Invalid("sharing.booking_range", Msg("预约须在共享时段内，且不少于15分钟", "The booking must lie inside the window and last 15 minutes or more"),
                      detail={"window_start": w.start_at.isoformat(), "window_end": w.end_at.isoformat()})
    if end_at <= now:
        raise Invalid("sharing.booking_past", Msg("不能预约已经过去的时间", "That time is already over"))
    p = plate_or_invalid(plate)
    b = book(ShareBooking, taken=_overlap_conflict(), window=w, space_id=w.space_id, lot_id=w.lot_id, booker_id=pid, plate=p,
             start_at=start_at, end_at=end_at, amount_fen=price_for(w, start_at, end_at))
    changed("booking", b.pk)  # the barrier's index learns this plate has a booking here
    record(actor=actor, action="sharing.book", obj=b, after=snapshot(b), region_path=_path(w.lot_id))
    return b


def own_or_staff(actor: Any, person_id: int, perm: str, path: str, code: str) -> bool:
    """The person's own row, or staff holding ``perm`` over ``path``. A resident asking for someone
    else's row gets a 404 (it is not theirs to know of); staff without the perm anywhere a 403.
    Returns True when acting as staff."""
    pid = getattr(actor, "person_id", None)
    if pid is not None and pid == person_id:
        return False
    if pid is not None and not covers(actor, perm, path):
        raise NotFound(code)
    check_perm_at(actor, perm, path, code=code)
    return True


def _mine_or_staff(actor: Any, b: ShareBooking, perm: str) -> str:
    path = _path(b.lot_id)
    own_or_staff(actor, b.booker_id, perm, path, "sharing.booking_not_found")
    return path


@transaction.atomic
def booking_cancel(*, actor: Any, booking: ShareBooking, now: dt.datetime | None = None) -> ShareBooking:
    """Before the start: free of charge (a payment is refunded in the ledger)."""
    b = ShareBooking.objects.select_for_update().get(pk=booking.pk)
    path = _mine_or_staff(actor, b, P.OPERATE)
    now = now or timezone.now()
    if b.status != BookingStatus.BOOKED or now >= b.start_at:
        raise Conflict("sharing.cannot_cancel", Msg("预约已开始或已结束，不能取消", "The booking has started or ended and cannot be cancelled"))
    before = snapshot(b)
    if b.paid_fen:
        refund(region_id=ParkingLot.objects.values_list("region_id", flat=True).get(pk=b.lot_id), booking=b)
    b.status, b.amount_fen, b.paid_fen = BookingStatus.CANCELLED, 0, 0
    b.save(update_fields=["status", "amount_fen", "paid_fen", "updated_at"])
    changed("booking", b.pk)
    record(actor=actor, action="sharing.cancel", obj=b, before=before, after=snapshot(b), region_path=path)
    return b


@transaction.atomic
def booking_pay(*, actor: Any, booking: ShareBooking, amount_fen: int, method: str = "online", now: dt.datetime | None = None) -> ShareBooking:
    """Record a payment of exactly what is due (the price; later an overstay or no-show fee)."""
    b = ShareBooking.objects.select_for_update().select_related("window").get(pk=booking.pk)
    path = _mine_or_staff(actor, b, P.OPERATE)
    if b.status == BookingStatus.CANCELLED or b.due_fen == 0:
        raise Conflict("sharing.nothing_due", Msg("当前无需付款", "Nothing is due"))
    if amount_fen != b.due_fen:
        raise Invalid("sharing.amount_mismatch", Msg("付款金额应为{due}分", "The amount due is {due} fen"), due=b.due_fen,
                      detail={"due_fen": b.due_fen})
    before = snapshot(b)
    lot = ParkingLot.objects.only("region_id").get(pk=b.lot_id)
    post_payment(region_id=lot.region_id, subject={"booking": b}, payer_id=b.booker_id, owner_id=b.window.owner_id,
                 amount_fen=amount_fen, permille=terms_for(b.lot_id).platform_permille)
    b.paid_fen += amount_fen
    b.paid_at = now or timezone.now()
    b.save(update_fields=["paid_fen", "paid_at", "updated_at"])
    record(actor=actor, action="sharing.pay", obj=b, before=before, after=snapshot(b), detail={"method": method[:20]}, region_path=path)
    return b


# ---- the ledger (shared with charging) -----------------------------------------------------------------


def _next_payment_no(subject: dict[str, Any]) -> int:
    return (LedgerEntry.objects.filter(**subject).aggregate(n=Max("payment_no"))["n"] or 0) + 1


def post_payment(*, region_id: int, subject: dict[str, Any], payer_id: int, owner_id: int | None, amount_fen: int, permille: int) -> int:
    """One payment: the payer is charged, the owner credited with all but the platform share (the
    platform gets ⌊amount × ‰⌋, the owner the rest; without an owner the platform gets it all)."""
    n = _next_payment_no(subject)
    platform = amount_fen * permille // 1000 if owner_id is not None else amount_fen
    rows = [LedgerEntry(region_id=region_id, payment_no=n, person_id=payer_id, kind=LedgerKind.CHARGE, amount_fen=-amount_fen, **subject)]
    if owner_id is not None:
        rows.append(LedgerEntry(region_id=region_id, payment_no=n, person_id=owner_id, kind=LedgerKind.OWNER_CREDIT,
                                amount_fen=amount_fen - platform, **subject))
    rows.append(LedgerEntry(region_id=region_id, payment_no=n, person_id=None, kind=LedgerKind.PLATFORM_FEE, amount_fen=platform, **subject))
    LedgerEntry.objects.bulk_create(rows)
    return n


def refund(*, region_id: int, booking: ShareBooking) -> int:
    """Reverse every payment of ``booking`` as one new payment number."""
    totals = (LedgerEntry.objects.filter(booking=booking).order_by().values("person_id", "kind").annotate(s=Sum("amount_fen")))
    n = _next_payment_no({"booking": booking})
    LedgerEntry.objects.bulk_create([LedgerEntry(region_id=region_id, booking=booking, payment_no=n, person_id=t["person_id"],
                                                 kind=t["kind"], amount_fen=-t["s"]) for t in totals if t["s"]])
    return n


# ---- entry / exit hooks, no-shows and overstays --------------------------------------------------------


def on_entry(*, lot_id: int, plate: str, at: dt.datetime) -> ShareBooking | None:
    """Called by ``services.plate_entry`` inside its transaction: a car with a booking here that starts
    within the grace period (or is running) is let in to its booked space; the booking is in use."""
    # One indexed query for the common case (a visitor without a booking); the lot's grace only then.
    b = (ShareBooking.objects.select_for_update(of=("self",)).select_related("space")
         .filter(lot_id=lot_id, plate=plate, status=BookingStatus.BOOKED, start_at__lte=at + MAX_GRACE, end_at__gt=at)
         .order_by("start_at").first())
    if b is None or b.start_at > at + dt.timedelta(minutes=terms_for(lot_id).grace_minutes):
        return None
    b.status, b.entered_at = BookingStatus.IN_USE, at
    b.save(update_fields=["status", "entered_at", "updated_at"])
    changed("booking", b.pk)
    record(actor=None, action="sharing.entered", obj=b, after={"status": b.status, "entered_at": at.isoformat()}, region_path=_path(lot_id))
    return b


def overstay_fee(terms: SharingTerms, end_at: dt.datetime, left_at: dt.datetime) -> int:
    """Per started minute past the end, once the grace period is exceeded (then counted from the end)."""
    over = (left_at - end_at).total_seconds()
    if over <= terms.grace_minutes * 60:
        return 0
    minutes = -(-int(over) // 60)
    return -(-minutes * terms.overstay_fen_per_hour // 60)


def _flag_next(b: ShareBooking, until: dt.datetime) -> int:
    """Bookings of the same space that start before ``until`` while ``b`` still holds it: conflicts."""
    return ShareBooking.objects.filter(space_id=b.space_id, status=BookingStatus.BOOKED, start_at__gte=b.end_at, start_at__lt=until,
                                       conflict=False).update(conflict=True, updated_at=timezone.now())


def on_exit(*, lot_id: int, plate: str, at: dt.datetime) -> ShareBooking | None:
    """Called by ``services.plate_exit``: the booking in use is completed; an overstay is charged."""
    b = ShareBooking.objects.select_for_update().filter(lot_id=lot_id, plate=plate, status=BookingStatus.IN_USE).order_by("start_at").first()
    if b is None:
        return None
    terms = terms_for(lot_id)
    b.status, b.exited_at = BookingStatus.COMPLETED, at
    b.overstay_fen = overstay_fee(terms, b.end_at, at)
    if b.overstay_fen:
        _flag_next(b, at)
    b.save(update_fields=["status", "exited_at", "overstay_fen", "updated_at"])
    record(actor=None, action="sharing.exited", obj=b, after={"status": b.status, "overstay_fen": b.overstay_fen}, region_path=_path(lot_id))
    return b


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Idempotent periodic work: bookings not entered within the grace after their start become
    no-shows (space released, the lot's no-show fee due); cars still inside past end + grace are
    marked overstaying and the next bookings of their space flagged as conflicts."""
    now = now or timezone.now()
    out = {"no_show": 0, "overstay": 0, "conflicts": 0}
    terms = {t.lot_id: t for t in SharingTerms.objects.all()}
    longest = dt.timedelta(minutes=max([t.grace_minutes for t in terms.values()] + [15]))
    for b in ShareBooking.objects.filter(status=BookingStatus.BOOKED, start_at__lt=now).order_by("id")[:5000]:
        grace = dt.timedelta(minutes=terms.get(b.lot_id, SharingTerms()).grace_minutes)
        if now < b.start_at + grace:
            continue
        with transaction.atomic():
            locked = ShareBooking.objects.select_for_update().filter(pk=b.pk, status=BookingStatus.BOOKED).first()
            if locked is None:
                continue
            before = snapshot(locked)
            locked.status, locked.amount_fen = BookingStatus.NO_SHOW, terms.get(b.lot_id, SharingTerms()).no_show_fen
            locked.save(update_fields=["status", "amount_fen", "updated_at"])
            changed("booking", locked.pk)
            record(actor=None, action="sharing.no_show", obj=locked, before=before, after=snapshot(locked), region_path=_path(b.lot_id))
            out["no_show"] += 1
    for b in ShareBooking.objects.filter(status=BookingStatus.IN_USE, end_at__lt=now).order_by("id")[:5000]:
        grace = dt.timedelta(minutes=terms.get(b.lot_id, SharingTerms()).grace_minutes)
        if now < b.end_at + grace:
            continue
        with transaction.atomic():
            if not b.overstaying:
                ShareBooking.objects.filter(pk=b.pk, overstaying=False).update(overstaying=True, updated_at=now)
                record(actor=None, action="sharing.overstay", obj=b, after={"overstaying": True}, region_path=_path(b.lot_id))
                out["overstay"] += 1
            out["conflicts"] += _flag_next(b, now + longest)
    return out


# ---- reads --------------------------------------------------------------------------------------------


def open_windows(*, actor: Any, start_at: dt.datetime, end_at: dt.datetime) -> list[ShareWindow]:
    """Open windows near the resident's home that cover [start, end) with no active booking overlapping it."""
    pid = check_is_resident(actor)
    person_path = Person.objects.values_list("region__path", flat=True).get(pk=pid)
    taken = ShareBooking.overlapping(start_at, end_at).values("space_id")
    return list(ShareWindow.objects.filter(_near(person_path), status=WindowStatus.OPEN, start_at__lte=start_at, end_at__gte=end_at)
                .exclude(owner_id=pid).exclude(space_id__in=taken).select_related("space", "lot", "space__zone").order_by("start_at", "id")[:100])


def window_for_booking(*, actor: Any, window_id: int) -> ShareWindow:
    pid = check_is_resident(actor)
    person_path = Person.objects.values_list("region__path", flat=True).get(pk=pid)
    w = ShareWindow.objects.filter(_near(person_path), pk=window_id).first()
    if w is None:
        raise NotFound("sharing.window_not_found")
    return w


def my_windows(actor: Any) -> QuerySet[ShareWindow]:
    pid = getattr(actor, "person_id", None)
    return ShareWindow.objects.filter(owner_id=pid).select_related("space", "lot") if pid else ShareWindow.objects.none()


def my_spaces(actor: Any) -> QuerySet[Space]:
    pid = getattr(actor, "person_id", None)
    return Space.objects.filter(owner_id=pid, kind__in=SHAREABLE).select_related("lot") if pid else Space.objects.none()


def my_bookings(actor: Any) -> QuerySet[ShareBooking]:
    pid = getattr(actor, "person_id", None)
    return ShareBooking.objects.filter(booker_id=pid).select_related("space", "lot") if pid else ShareBooking.objects.none()


def my_window(*, actor: Any, window_id: int) -> ShareWindow:
    w = my_windows(actor).filter(pk=window_id).first()
    if w is None:
        raise NotFound("sharing.window_not_found")
    return w


def booking_get(*, actor: Any, booking_id: int) -> ShareBooking:
    """The booker's own booking, or any in the staff member's parking.view scope."""
    b = my_bookings(actor).filter(pk=booking_id).first() or booking_list(actor=actor).filter(pk=booking_id).first()
    if b is None:
        raise NotFound("sharing.booking_not_found")
    return b


def window_list(*, actor: Any, lot_id: int | None = None, status: str | None = None) -> QuerySet[ShareWindow]:
    qs = ShareWindow.objects.for_actor(actor, P.VIEW).select_related("space", "lot")
    if lot_id is not None:
        qs = qs.filter(lot_id=lot_id)
    return qs.filter(status=status) if status else qs


def window_get(*, actor: Any, window_id: int) -> ShareWindow:
    w = my_windows(actor).filter(pk=window_id).first() or window_list(actor=actor).filter(pk=window_id).first()
    if w is None:
        raise NotFound("sharing.window_not_found")
    return w


def booking_list(*, actor: Any, lot_id: int | None = None, status: str | None = None) -> QuerySet[ShareBooking]:
    qs = ShareBooking.objects.for_actor(actor, P.VIEW).select_related("space", "lot")
    if lot_id is not None:
        qs = qs.filter(lot_id=lot_id)
    return qs.filter(status=status) if status else qs


def earnings(person_id: int) -> dict[str, int]:
    """What the owner earned from sharing (credits net of refunds)."""
    agg = LedgerEntry.objects.filter(person_id=person_id, kind=LedgerKind.OWNER_CREDIT).aggregate(s=Sum("amount_fen"))
    return {"balance_fen": agg["s"] or 0}


def my_ledger(actor: Any) -> QuerySet[LedgerEntry]:
    pid = getattr(actor, "person_id", None)
    return LedgerEntry.objects.filter(person_id=pid).select_related("booking", "charging_session") if pid else LedgerEntry.objects.none()


def settlement(*, actor: Any, lot_id: int | None = None) -> list[dict[str, Any]]:
    """Per owner in the staff member's parking.manage scope: net credits (one aggregate query)."""
    qs = LedgerEntry.objects.for_actor(actor, P.MANAGE).filter(kind=LedgerKind.OWNER_CREDIT)
    if lot_id is not None:
        qs = qs.filter(booking__lot_id=lot_id)
    rows = qs.order_by().values("person_id", "person__name").annotate(total=Sum("amount_fen"))
    return sorted(({"person_id": r["person_id"], "name": r["person__name"], "total_fen": r["total"] or 0} for r in rows),
                  key=lambda r: -r["total_fen"])


def may_manage(actor: Any, lot: ParkingLot) -> bool:
    return covers(actor, P.MANAGE, _path(lot.pk))
