"""Test data builders shared by every test module (factories, not fixture files)."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import factory
from django.contrib.auth.hashers import make_password

from linli.core.validators import ric_check_digit
from linli.orgs.models import (
    Account,
    AccountKind,
    ApiToken,
    Organisation,
    OrgType,
    Role,
    RoleAssignment,
    hash_token,
)
from linli.people.models import Person, Residency
from linli.places.models import Building, Estate, House, Level, Region, Unit

_seq = itertools.count(1)
PASSWORD = "Linli-test-pass-2026"


def square(lng: float, lat: float, size: float = 0.01) -> dict:
    """A GeoJSON square polygon with its south-west corner at (lng, lat)."""
    return {
        "type": "Polygon",
        "coordinates": [[[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]],
    }


def make_id_number(region6: str = "370102", birth: dt.date | None = None, seq: int | None = None, female: bool = False) -> str:
    birth = birth or dt.date(1980, 1, 1) + dt.timedelta(days=random.randint(0, 12000))
    n = seq if seq is not None else random.randint(0, 999)
    body = f"{n % 1000:03d}"
    if (int(body[2]) % 2 == 0) != female:  # 17th digit: odd = male, even = female
        body = body[:2] + str((int(body[2]) + 1) % 10)
    first17 = f"{region6}{birth:%Y%m%d}{body}"
    return first17 + ric_check_digit(first17)


def region(level: str, parent: Region | None = None, *, code: str | None = None, name: str | None = None, boundary: dict | None = None) -> Region:
    n = next(_seq)
    code = code or f"T{n:07d}"
    kwargs = dict(level=level, code=code, name=name or f"{level}-{n}", boundary=boundary)
    if boundary:
        coords = boundary["coordinates"][0]
        kwargs["centroid_lng"] = sum(c[0] for c in coords[:-1]) / (len(coords) - 1)
        kwargs["centroid_lat"] = sum(c[1] for c in coords[:-1]) / (len(coords) - 1)
    if parent is None:
        return Region.objects.add_root(kwargs)
    parent.refresh_from_db()
    return Region.objects.add_child(parent, kwargs)


class Tree:
    """city › district › street › two communities (A, B) › one grid each, with square boundaries."""

    def __init__(self) -> None:
        self.city = region(Level.CITY, code="370100", name="济南市", boundary=square(116.9, 36.6, 0.2))
        self.district = region(Level.DISTRICT, self.city, code="370102", name="历下区", boundary=square(117.0, 36.65, 0.04))
        self.street = region(Level.STREET, self.district, code="370102001", name="解放路街道", boundary=square(117.0, 36.65, 0.02))
        self.community_a = region(Level.COMMUNITY, self.street, code="370102001001", name="甲社区", boundary=square(117.0, 36.65, 0.01))
        self.community_b = region(Level.COMMUNITY, self.street, code="370102001002", name="乙社区", boundary=square(117.01, 36.65, 0.01))
        self.grid_a = region(Level.GRID, self.community_a, code="370102001001001", name="甲一网格", boundary=square(117.0, 36.65, 0.01))
        self.grid_b = region(Level.GRID, self.community_b, code="370102001002001", name="乙一网格", boundary=square(117.01, 36.65, 0.01))
        for r in (self.city, self.district, self.street, self.community_a, self.community_b, self.grid_a, self.grid_b):
            r.refresh_from_db()


def role(code: str, perms: list[str], name: str | None = None) -> Role:
    obj, _ = Role.objects.update_or_create(code=code, defaults={"name": name or code, "permissions": [str(p) for p in perms]})
    return obj


def account(username: str | None = None, *, perms: list[str] | None = None, scope: Region | None = None,
            kind: str = AccountKind.STAFF, organisation: Organisation | None = None, person: Person | None = None,
            superuser: bool = False) -> Account:
    """An account; with ``perms`` and ``scope`` it gets a role holding those perms over that subtree."""
    username = username or f"user{next(_seq)}"
    acc = Account.objects.create(
        username=username, password=make_password(PASSWORD), kind=kind, display_name=username,
        organisation=organisation, person=person, is_superuser=superuser, is_staff=superuser,
    )
    if perms is not None and scope is not None:
        r = role(f"role-{username}", perms)
        RoleAssignment.objects.create(account=acc, role=r, region=scope)
    return acc


def token_for(acc: Account) -> str:
    raw = ApiToken.generate()
    ApiToken.objects.create(account=acc, name="test", prefix=raw[:10], key_hash=hash_token(raw))
    return raw


def organisation(region_: Region, type_: str = OrgType.COMMUNITY_COMMITTEE, name: str | None = None) -> Organisation:
    return Organisation.objects.create(region=region_, type=type_, name=name or f"组织{next(_seq)}")


class EstateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Estate

    code = factory.Sequence(lambda n: f"E{n:06d}")
    name = factory.Sequence(lambda n: f"测试小区{n}")
    address = "济南市历下区解放路1号"


def estate(community: Region, **kw) -> Estate:
    return EstateFactory(region=community, **kw)


def building(est: Estate, grid: Region, number: str = "1") -> Building:
    return Building.objects.create(estate=est, region=grid, number=number, floors_above=6)


def house(grid: Region, *, est: Estate | None = None, number: str | None = None, floor: int = 1) -> House:
    est = est or estate(Region.objects.get_parent(grid))
    b = Building.objects.filter(estate=est, region=grid).first() or building(est, grid, str(next(_seq)))
    u, _ = Unit.objects.get_or_create(building=b, number="1")
    number = number or f"{floor}{next(_seq) % 100:02d}"
    return House.objects.create(
        building=b, unit=u, region=grid, number=number, floor=floor,
        address=f"{est.name}{b.number}号楼1单元{number}室", floor_area_m2="89.50",
    )


def person(grid: Region, *, name: str = "张三丰", id_number: str | None = None, phone: str = "+8613812345678", **kw) -> Person:
    """A person written straight to the table (bypassing services) with encryption and blind indexes."""
    from linli.core import pii

    idn = id_number or make_id_number(seq=next(_seq))
    kw.setdefault("gender", "M")
    kw.setdefault("birth_date", dt.date(1980, 1, 1))
    return Person.objects.create(
        name=name, region=grid, id_number=idn, id_number_index=pii.blind_index(idn, purpose="id_number"),
        id_number_tail=idn[-4:], phone=phone, phone_index=pii.blind_index(phone, purpose="phone") if phone else "",
        phone_tail=phone[-4:] if phone else "", **kw,
    )


def residency(p: Person, h: House, relation: str = "owner", move_in: dt.date | None = None) -> Residency:
    return Residency.objects.create(person=p, house=h, relation=relation, move_in=move_in or dt.date(2020, 1, 1))
