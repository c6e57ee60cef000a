"""Demo data for K6/K7 (called by ``linli.core.demo`` after the accounts): in the demo community, two
residents' own spaces shared (one window across midnight), one neighbour's booking, settlement terms,
a time-of-use charging tariff and two charger piles (iot devices of type ``ev_charger``).

Uses the lot the parking demo created in that community when there is one, else creates a small one.
Like the rest of the demo it writes the tables directly (one audit entry for the whole demo load),
except the piles, which are provisioned through the iot service so they get real credentials."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from .models import (
    Charger,
    ChargingTariff,
    ParkingLot,
    PriceMode,
    ShareBooking,
    ShareWindow,
    SharingTerms,
    Space,
    SpaceKind,
)

TOU = [{"from": "00:00", "fen_per_kwh": 35}, {"from": "08:00", "fen_per_kwh": 100}, {"from": "22:00", "fen_per_kwh": 35}]


def build(*, community: Any, grid: Any, owners: list[int], admin: Any, now: dt.datetime | None = None,
          log: Callable[[str], None] = print) -> dict[str, int]:
    """``owners``: person ids of demo residents (the first two share, the third books)."""
    from linli.iot import services as iot_services
    from linli.iot.models import DeviceType
    from linli.places.models import Estate

    if len(owners) < 3:
        return {}
    now = timezone.localtime(now or timezone.now())
    lot = ParkingLot.objects.filter(region=community).order_by("id").first()
    if lot is None:
        token = ParkingLot.generate_token()
        from linli.orgs.models import hash_token

        lot = ParkingLot.objects.create(code="DEMO-SHARE", name="邻里共享地库", region=community, capacity=120,
                                        estate=Estate.objects.filter(region=community).order_by("id").first(),
                                        token_hash=hash_token(token), token_prefix=token[:10])
    SharingTerms.objects.update_or_create(lot=lot, defaults={"platform_permille": 100, "grace_minutes": 15, "no_show_fen": 500,
                                                             "overstay_fen_per_hour": 600})
    spaces = []
    for n, pid in enumerate(owners[:2], start=1):
        space, _ = Space.objects.get_or_create(lot=lot, number=f"GX-{n:03d}", defaults={"kind": SpaceKind.OWNED, "owner_id": pid})
        spaces.append(space)
    evening = now.replace(hour=19, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    night = ShareWindow.objects.create(space=spaces[0], lot=lot, owner_id=owners[0], start_at=evening, end_at=evening + dt.timedelta(hours=13),
                                       price_mode=PriceMode.HOURLY, price_fen=300)
    ShareWindow.objects.create(space=spaces[1], lot=lot, owner_id=owners[1], start_at=evening + dt.timedelta(hours=14),
                               end_at=evening + dt.timedelta(hours=23), price_mode=PriceMode.FLAT, price_fen=1500)
    start = evening + dt.timedelta(hours=1)
    ShareBooking.objects.create(window=night, space=spaces[0], lot=lot, booker_id=owners[2], plate="鲁AD12345", start_at=start,
                                end_at=start + dt.timedelta(hours=3), amount_fen=900)
    tariff = ChargingTariff.objects.create(region=community, name="峰谷电价（居民区）", periods=TOU, service_fen_per_hour=80,
                                           idle_fen_per_hour=600, idle_grace_minutes=15, idle_cap_fen=3000)
    dtype = DeviceType.objects.get(code="ev_charger")
    for n in (1, 2):
        bay, _ = Space.objects.get_or_create(lot=lot, number=f"EV-{n:02d}", defaults={"kind": SpaceKind.PUBLIC})
        dev, _ = iot_services.device_provision(actor=admin, serial=f"EVC-DEMO-{lot.pk}-{n}", device_type=dtype, region=grid,
                                               name=f"{lot.name}{n}号充电桩", vendor="星星充电", model="AC7kW")
        Charger.objects.create(device=dev, lot=lot, space=bay, tariff=tariff, name=f"{n}号桩(7kW)", max_power_kw=7)
    log(f"  sharing: 2 shared windows, 1 booking, 2 chargers in {lot.name}")
    return {"share_windows": 2, "share_bookings": 1, "chargers": 2}
