"""Demo access control for ``manage.py demo`` (A1–A5): the estate of the first demo resident gets an
estate gate group (south and north gates) and building doors, cards for its residents, a day of gate
events, a watch-list plate and person, and visitors (an invite, a walk-in awaiting confirmation, a
walk-in whose plate hits the watch list). The demo ``property`` account gets an access role over
the community (门禁管理员: every access permission plus person/place viewing).

Structure, credentials, watch list and visitors go through the services (audited, indexed); the
day of events is bulk-inserted like the rest of the demo.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

from django.utils import timezone

from linli.people.models import Residency

from . import services as svc
from .models import AccessEvent, CredentialKind, Result, Source
from .perms import AccessPerm

ROLE_CODE = "access_operator"
WATCH_PLATE = "鲁AD4X27"
WATCH_ID = "370102198001010015"


def _role():
    from linli.orgs.models import Role

    role, _ = Role.objects.get_or_create(code=ROLE_CODE, defaults={
        "name": "门禁管理员", "permissions": [p.value for p in AccessPerm] + ["person.view", "place.view"], "is_system": True})
    return role


def build(*, resident_person_ids: list[int], rng: random.Random) -> dict[str, int]:
    from linli.orgs.models import Account, RoleAssignment

    if not resident_person_ids:
        return {}
    home = Residency.objects.filter(person_id=resident_person_ids[0], move_out__isnull=True).select_related(
        "house__building__estate__region", "house__building__region", "house__unit", "house__region").first()
    operator = Account.objects.filter(username="property").first()
    if home is None or operator is None:
        return {}
    house = home.house
    building, estate = house.building, house.building.estate
    RoleAssignment.objects.create(account=operator, role=_role(), region=estate.region)
    main = svc.gate_group_create(actor=operator, code=f"E{estate.pk}-MAIN", name=f"{estate.name}大门", level="estate", estate=estate)
    gates = [svc.gate_create(actor=operator, code=f"e{estate.pk}-south", name="南门", group=main, kind="barrier")[0],
             svc.gate_create(actor=operator, code=f"e{estate.pk}-north", name="北门", group=main, kind="turnstile")[0]]
    b_group = svc.gate_group_create(actor=operator, code=f"B{building.pk}", name=f"{building.name}门禁", level="building",
                                    estate=estate, building=building)
    gates.append(svc.gate_create(actor=operator, code=f"b{building.pk}-door", name=f"{building.name}单元门", group=b_group)[0])
    svc.rule_create(actor=operator, group=main, audience="residents", weekdays=0b1111111, start_minute=5 * 60, end_minute=24 * 60,
                    name="住户 05:00–24:00")
    svc.holiday_add(actor=operator, region=estate.region, date=dt.date(2027, 1, 1), name="元旦")

    residents = list(Residency.objects.filter(house__building__estate=estate, move_out__isnull=True).select_related("house")
                     .order_by("id")[:40])
    creds = []
    for i, r in enumerate(residents):
        if any(c.person_id == r.person_id for c in creds):
            continue
        creds.append(svc.credential_issue(actor=operator, person=r.person, kind="card", house=r.house, value=f"{0xA1000000 + estate.pk * 1000 + i:X}",
                                          valid_from=timezone.now() - dt.timedelta(days=90)))
    now = timezone.now()
    events = []
    for k in range(240):
        at = now - dt.timedelta(minutes=rng.randint(1, 24 * 60))
        gate = rng.choice(gates)
        if rng.random() < 0.08:
            events.append(AccessEvent(event_uid=uuid.uuid4().hex, gate=gate, region_id=gate.region_id, credential_kind=CredentialKind.CARD,
                                      result=Result.DENY, reason="unknown_credential", at=at, source=Source.ONLINE))
            continue
        c = rng.choice(creds)
        if gate.group_id == b_group.pk and c.house.building_id != building.pk:
            events.append(AccessEvent(event_uid=uuid.uuid4().hex, gate=gate, region_id=gate.region_id, credential_kind=c.kind, credential=c,
                                      person_id=c.person_id, result=Result.DENY, reason="not_entitled", at=at, source=Source.ONLINE))
            continue
        events.append(AccessEvent(event_uid=uuid.uuid4().hex, gate=gate, region_id=gate.region_id, credential_kind=c.kind, credential=c,
                                  person_id=c.person_id, result=Result.ALLOW, reason="resident", at=at,
                                  source=Source.OFFLINE if k % 37 == 0 else Source.ONLINE))
    AccessEvent.objects.bulk_create(events, batch_size=500)

    svc.watch_add(actor=operator, region=estate.region, kind="plate", reason="公安通报：涉案车辆", plate=WATCH_PLATE,
                  policy="allow_and_alarm", source="派出所")
    svc.watch_add(actor=operator, region=estate.region, kind="person", reason="社区通报：多次上门推销诈骗", id_number=WATCH_ID,
                  policy="deny", source="社区居委会")
    resident = Account.objects.filter(person_id=resident_person_ids[0]).first()
    n_visitors = 0
    if resident is not None:
        svc.visitor_invite(actor=resident, house=house, visitor_name="刘亲戚", visitor_phone="13905310000", plate="鲁A12345",
                           valid_from=now, valid_until=now + dt.timedelta(hours=6))
        n_visitors += 1
    svc.visitor_register_at_gate(actor=operator, gate=gates[0], house=house, visitor_name="陈快递", id_number="370102199002020017",
                                 visitor_phone="13605310001", hours=1)
    svc.visitor_register_at_gate(actor=operator, gate=gates[0], house=house, visitor_name="马师傅", id_number="370102198503030016",
                                 plate=WATCH_PLATE, hours=2)
    return {"gates": len(gates), "credentials": len(creds), "access_events": len(events), "visitors": n_visitors + 2, "watch_list": 2}
