"""Parking demo data (K1–K5) on top of ``manage.py demo``: in the demo community (where the
``property`` account works) a billing rule, two lots with zones and bays, owned bays, monthly passes
and vehicles of the demo residents, and today's traffic — entries and exits hour by hour, a car
waiting to pay, a stolen plate turned away, one pass used by two cars (一卡多车) — all through the
real services, so sessions, the decision log, alarms and audit are what production would hold."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from . import decision
from . import services as svc
from .billing import CST
from .models import ParkingLot, ParkingSession

PROV_PLATES = "鲁A"
LOTS = [("DEMO-P1", "地下停车场", 120, [("B1-A", "负一层A区", 40), ("B1-B", "负一层B区", 40), ("B2", "负二层", 30)]),
        ("DEMO-P2", "地面停车场", 60, [("G-N", "北侧", 30), ("G-S", "南侧", 25)])]


def _plate(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return PROV_PLATES + "".join(rng.choice(letters + "0123456789") for _ in range(1)) + f"{rng.randrange(10000):04d}"


def build(*, seed: int = 2026, log=print) -> dict[str, Any]:
    from linli.orgs.models import Account, RoleAssignment
    from linli.people.models import Person
    from linli.places.models import Estate

    if ParkingLot.objects.filter(code="DEMO-P1").exists():
        log("Parking demo already loaded. 停车演示数据已存在。")
        return {"skipped": True}
    admin = Account.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
    ra = RoleAssignment.objects.filter(account__username="property").select_related("region").first()
    if admin is None or ra is None:
        raise RuntimeError("Run `manage.py demo` first (needs the admin and property accounts). 请先运行 manage.py demo。")
    community = ra.region
    estates = list(Estate.objects.filter(region__path__startswith=community.path).order_by("id")[:2])
    if not estates:
        raise RuntimeError("The demo community has no estate.")
    rng = random.Random(seed)
    now = timezone.now()
    rule = svc.rule_create(actor=admin, region=community, name="小区标准收费", free_minutes=15, first_minutes=60, first_fen=500,
                           step_minutes=60, step_fen=200, daily_cap_fen=3000, night_start_minute=22 * 60, night_end_minute=7 * 60,
                           night_fen=300, visitor_paid_by_host=True)
    residents = [a.person for a in Account.objects.filter(username__startswith="resident", person__isnull=False).select_related("person")]
    others = list(Person.objects.filter(region__path__startswith=community.path).exclude(pk__in=[p.pk for p in residents])
                  .order_by("id")[:40])
    counts = {"lots": 0, "zones": 0, "spaces": 0, "passes": 0, "vehicles": 0, "decisions": 0}
    lots = []
    for (code, name, capacity, zones), est in zip(LOTS, estates * 2, strict=False):
        lot, _token = svc.lot_create(actor=admin, code=code, name=f"{est.name}{name}", capacity=capacity, estate=est, rule=rule)
        lots.append(lot)
        counts["lots"] += 1
        for zcode, zname, zcap in zones:
            zone = svc.zone_create(actor=admin, lot=lot, code=zcode, name=zname, capacity=zcap)
            counts["zones"] += 1
            for n in range(1, 4):
                owner = others.pop() if others else None
                svc.space_create(actor=admin, lot=lot, number=f"{zcode}-{n:03d}", zone=zone, kind="owned" if owner else "public", owner=owner)
                counts["spaces"] += 1
    main = lots[0]
    month_start = now.astimezone(CST).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    holders = []
    for i, person in enumerate(residents):
        v = svc.vehicle_register(actor=admin, owner=person, plate="鲁AD12340" if i == 0 else f"鲁A{66600 + i}")  # a new-energy car first
        counts["vehicles"] += 1
        holders.append(v.plate)
    if holders:  # resident 1: a monthly pass shared by two cars, one allowed inside (一卡多车 is caught)
        second = svc.vehicle_register(actor=admin, owner=residents[0], plate="鲁A77001")
        svc.pass_create(actor=admin, lot=main, person=residents[0], kind="monthly", plates_=[holders[0], second.plate],
                        valid_from=month_start, valid_until=month_start + dt.timedelta(days=31), max_inside=1)
        counts["passes"] += 1
    used: set[str] = set(holders) | {"鲁A77001"}
    for person in others[:15]:
        plate = _plate(rng)
        if plate in used:
            continue
        used.add(plate)
        svc.vehicle_register(actor=admin, owner=person, plate=plate)
        svc.pass_create(actor=admin, lot=rng.choice(lots), person=person, kind=rng.choice(["monthly", "annual"]), plates_=[plate],
                        valid_from=month_start, valid_until=month_start + dt.timedelta(days=365))
        counts["vehicles"] += 1
        counts["passes"] += 1
    decision.poke()
    start = now.astimezone(CST).replace(hour=6, minute=0, second=0, microsecond=0)
    if start > now - dt.timedelta(hours=2):
        start = now - dt.timedelta(hours=8)
    span = (now - start).total_seconds()
    visitors = []
    for _ in range(80):
        plate = _plate(rng)
        if plate in used:
            continue
        used.add(plate)
        lot = rng.choice(lots)
        t_in = start + dt.timedelta(seconds=rng.uniform(0, span * 0.9))
        d = svc.plate_entry(lot=lot, plate=plate, at=t_in)
        counts["decisions"] += 1
        stay = dt.timedelta(minutes=rng.choice([8, 25, 50, 95, 180, 300]))
        if d.allowed and t_in + stay < now and rng.random() < 0.6:
            out = svc.plate_exit(lot=lot, plate=plate, at=t_in + stay)
            counts["decisions"] += 1
            if not out.allowed and out.reason == "payment_due":
                s = ParkingSession.objects.get(pk=d.session_id)
                svc.pay(actor=admin, session=s, amount_fen=out.amount_due_fen, method="booth", at=t_in + stay)
                svc.plate_exit(lot=lot, plate=plate, at=t_in + stay + dt.timedelta(minutes=2))
                counts["decisions"] += 1
        elif d.allowed:
            visitors.append((lot, plate))
    for lot, plate in visitors[:20]:  # zone cameras saw them: guidance and find-my-car have positions
        zone = rng.choice(list(lot.zones.all()))
        svc.locate(lot=decision.get_index().lots[lot.pk], plate=plate, zone_code=zone.code)
    if holders:
        svc.plate_entry(lot=main, plate=holders[0], at=now - dt.timedelta(hours=3))
        svc.locate(lot=decision.get_index().lots[main.pk], plate=holders[0], zone_code="B1-A", space_number="B1-A-001")
        svc.plate_entry(lot=main, plate="鲁A77001", at=now - dt.timedelta(hours=1))  # the same pass: 一卡多车 alarm
        if len(holders) > 1:  # resident2's car has been inside 100 minutes: 7 yuan to pay in the portal
            svc.plate_entry(lot=main, plate=holders[1], at=now - dt.timedelta(minutes=100))
        counts["decisions"] += 3
    svc.flag_add(actor=admin, region=community, plate="鲁A99999", kind="stolen", reason="公安机关通报被盗车辆")
    decision.poke()
    svc.plate_entry(lot=main, plate="鲁A99999", at=now - dt.timedelta(minutes=20))
    counts["decisions"] += 1
    log(f"Parking demo: {counts}")
    return counts
