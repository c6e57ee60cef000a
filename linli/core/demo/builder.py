"""Build the demo district (see package docstring). One pass, grid by grid, bulk inserts."""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.test.utils import override_settings
from stdnum.cn import uscc as uscc_mod

from linli.core import pii
from linli.core.validators import ric_check_digit

from . import names as N
from .accounts import DEMO_PASSWORD, RESIDENT_USERNAMES, STAFF_PLAN, ensure_roles
from .geo import BBOX, Lattice, PointSampler, Rect, columns, geo_stats, split
from .writer import BulkWriter

ANCHOR = dt.date(2026, 11, 1)  # "today" of the demo world: fixed so a seed always gives the same data
BATCH = 2000


class Weighted:
    """Fast weighted choice over a fixed table."""

    def __init__(self, items: list[tuple], rng: random.Random):
        self.values = [it[0] for it in items]
        self.cum = list(accumulate(it[-1] for it in items))
        self.rng = rng

    def __call__(self):
        return self.values[bisect(self.cum, self.rng.random() * self.cum[-1])]


@dataclass
class GridInfo:
    region: object
    community: object
    street: object
    district: object
    boundary: dict
    persons: int = 0


@dataclass
class Stats:
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def add(self, key: str, n: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def _add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return dt.date(d.year + years, 3, 1)


def _years_ago(years: float, rng: random.Random) -> dt.date:
    return ANCHOR - dt.timedelta(days=int(years * 365.25) + rng.randint(0, 364))


class Builder:
    def __init__(self, *, persons: int, seed: int, log: Callable[[str], None] = print):
        from linli.people.models import Household, Person, Residency, SpecialGroupTag
        from linli.places.models import Building, Estate, Facility, House, Region, Unit

        self.M = dict(Region=Region, Estate=Estate, Building=Building, Unit=Unit, House=House, Facility=Facility,
                      Person=Person, Household=Household, Residency=Residency, Tag=SpecialGroupTag)
        self.n_persons = persons
        self.rng = random.Random(seed)
        self.seed = seed
        self.log = log
        self.stats = Stats()
        r = self.rng
        self.surname = Weighted(N.SURNAMES, r)
        self.ethnicity = Weighted(N.ETHNICITY_WEIGHTS, r)
        self.hukou = Weighted([(h[:2], h[2]) for h in N.HUKOU], r)
        self.occupation = Weighted(N.OCCUPATIONS, r)
        self.education = Weighted(N.EDUCATION, r)
        self.political = Weighted(N.POLITICAL, r)
        self.rooms = Weighted([(1, 8), (2, 35), (3, 45), (4, 12)], r)
        self.ptype = Weighted([("commodity", 70), ("resettlement", 12), ("affordable", 9), ("public_rental", 6), ("self_built", 3)], r)
        self.hh_size = Weighted([(1, 25), (2, 30), (3, 25), (4, 12), (5, 8)], r)
        self.used_ids: set[str] = set()
        self.estate_names: set[str] = set()
        self.estate_seq: dict[str, int] = {}
        self.regions: dict[str, object] = {}
        self.grids: list[GridInfo] = []
        self.companies: list = []

    # ---- tree ---------------------------------------------------------------------------------
    def build_tree(self) -> None:
        Region = self.M["Region"]
        r = self.rng
        n_streets = sum(len(d[3]) for d in N.DISTRICTS)
        small = self.n_persons < 20_000
        tiny = self.n_persons < 2_000
        communities_per_street = [1 if tiny else r.randint(2, 3) if small else r.randint(3, 5) for _ in range(n_streets)]
        n_comm = sum(communities_per_street)
        # ~1,000–1,500 people per grid at scale (a real grid is 300–500 households); 3–5 per community.
        grids_per_comm = max(1, round(self.n_persons / (n_comm * 1300)))
        est_grids = n_comm * max(4, grids_per_comm)
        k = max(1.0, math.sqrt(est_grids * 10 / 2400))
        lat = Lattice(round(60 * k), round(40 * k), r)
        whole = Rect(0, 0, lat.nx, lat.ny)

        nodes: list = []

        def node(level: str, code: str, name: str, rect: Rect, path: str, depth: int, numchild: int):
            poly = lat.polygon(rect)
            lng, la, area = geo_stats(poly)
            obj = Region(level=level, code=code, name=name, boundary=poly, centroid_lng=lng, centroid_lat=la,
                         area_km2=area, path=path, depth=depth, numchild=numchild)
            nodes.append(obj)
            self.regions[code] = obj
            return obj

        city = node("city", N.CITY[0], N.CITY[1], whole, Region._get_path(None, 1, 1), 1, len(N.DISTRICTS))
        street_i = 0
        comm_names = list(N.COMMUNITY_BASES)
        r.shuffle(comm_names)
        comm_i = 0
        for d_idx, ((dcode, dname, _share, streets), drect) in enumerate(
            zip(N.DISTRICTS, columns(whole, [d[2] for d in N.DISTRICTS]), strict=True), start=1
        ):
            district = node("district", dcode, dname, drect, Region._get_path(city.path, 2, d_idx), 2, len(streets))
            for s_idx, (sname, srect) in enumerate(zip(streets, split(drect, len(streets), r), strict=True), start=1):
                n_c = communities_per_street[street_i]
                street_i += 1
                scode = f"{dcode}{s_idx * 3:03d}"  # real street codes step by 3 (001, 003 …) often; keep 9 digits
                crects = split(srect, n_c, r)
                street = node("street", scode, sname, srect, Region._get_path(district.path, 3, s_idx), 3, len(crects))
                for c_idx, crect in enumerate(crects, start=1):
                    base = comm_names[comm_i % len(comm_names)]
                    cname = f"{base}社区" if comm_i < len(comm_names) else f"{base}{comm_i // len(comm_names) + 1}社区"
                    comm_i += 1
                    ccode = f"{scode}{c_idx:03d}"
                    g_n = 2 if tiny else r.randint(2, 3) if small else max(grids_per_comm, r.randint(3, 5))
                    grects = split(crect, g_n, r)
                    comm = node("community", ccode, cname, crect, Region._get_path(street.path, 4, c_idx), 4, len(grects))
                    for g_idx, grect in enumerate(grects, start=1):
                        g = node("grid", f"{ccode}{g_idx:03d}", f"{cname.removesuffix('社区')}第{g_idx}网格", grect,
                                 Region._get_path(comm.path, 5, g_idx), 5, 0)
                        self.grids.append(GridInfo(g, comm, street, district, g.boundary))
        Region.objects.bulk_create(nodes, batch_size=500)
        # bulk_create returns pks on PostgreSQL and SQLite ≥ 3.35; re-read to be safe on any backend.
        by_code = {reg.code: reg for reg in Region.objects.filter(code__in=list(self.regions))}
        for gi in self.grids:
            gi.region, gi.community = by_code[gi.region.code], by_code[gi.community.code]
            gi.street, gi.district = by_code[gi.street.code], by_code[gi.district.code]
        self.regions = by_code
        self.stats.add("regions", len(nodes))
        self.stats.add("grids", len(self.grids))
        from linli.places.models import BoundaryVersion

        bv, _ = BoundaryVersion.objects.get_or_create(id=1)
        BoundaryVersion.objects.filter(id=1).update(version=bv.version + 1)

    # ---- organisations ------------------------------------------------------------------------
    def _uscc(self) -> str:
        body = "91370102" + "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        return body + uscc_mod.calc_check_digit(body)

    def build_orgs(self) -> None:
        from linli.orgs.models import Organisation, OrgType

        r = self.rng
        orgs: list = []
        city = self.regions[N.CITY[0]]
        for dcode, dname, _s, _st in N.DISTRICTS:
            d = self.regions[dcode]
            orgs += [Organisation(type=OrgType.DEPARTMENT, name=f"济南市{dname}{dep}", short_name=f"{dname}{dep}", region=d,
                                  contact_phone=f"0531-{r.randint(82000000, 88999999)}") for dep in N.DEPARTMENTS]
        orgs += [Organisation(type=OrgType.PROPERTY_COMPANY, name=n, short_name=n[2:6], region=city, uscc=self._uscc(),
                              contact_phone=f"0531-{r.randint(82000000, 88999999)}") for n in N.PROPERTY_COMPANIES]
        Organisation.objects.bulk_create(orgs)
        offices = []
        for reg in self.regions.values():
            if reg.level == "street":
                district = next(x for x in self.regions.values() if x.level == "district" and reg.path.startswith(x.path))
                offices.append(Organisation(type=OrgType.STREET_OFFICE, name=f"{district.name}{reg.name}办事处",
                                            short_name=reg.name, region=reg, address=f"济南市{district.name}{r.choice(N.ROADS)}{r.randint(1, 300)}号",
                                            contact_phone=f"0531-{r.randint(82000000, 88999999)}"))
        Organisation.objects.bulk_create(offices)
        office_by_path = {o.region.path: o for o in offices}
        committees = []
        for reg in self.regions.values():
            if reg.level == "community":
                committees.append(Organisation(type=OrgType.COMMUNITY_COMMITTEE, name=f"{reg.name}居民委员会", short_name=reg.name,
                                               region=reg, parent=office_by_path[reg.path[:12]],
                                               contact_phone=f"0531-{r.randint(82000000, 88999999)}"))
        Organisation.objects.bulk_create(committees)
        self.companies = [o for o in orgs if o.type == OrgType.PROPERTY_COMPANY]
        self.committee_by_region = {o.region_id: o for o in committees}
        self.office_by_region = {o.region_id: o for o in offices}
        self.stats.add("organisations", len(orgs) + len(offices) + len(committees))

    # ---- facilities ---------------------------------------------------------------------------
    def build_facilities(self) -> None:
        Facility = self.M["Facility"]
        r = self.rng
        rows = []
        for reg in self.regions.values():
            if reg.level != "community":
                continue
            sampler = PointSampler(reg.boundary, r)
            plan = N.FACILITY_PLAN[:2] + r.sample(N.FACILITY_PLAN[2:], r.randint(2, 5))
            for kind, suffix, (lo, hi), serves in plan:
                lng, lat = sampler.point()
                rows.append(Facility(region=reg, kind=kind, name=f"{reg.name}{suffix}", capacity=r.randint(lo, hi), serves=serves,
                                     address=f"{reg.name}{r.choice(N.ROADS)}{r.randint(1, 200)}号",
                                     opening_hours="周一至周日 08:30-17:30" if kind != "canteen" else "11:00-13:00, 17:00-18:30",
                                     phone=f"0531-{r.randint(82000000, 88999999)}", lat=lat, lng=lng))
        Facility.objects.bulk_create(rows, batch_size=BATCH)
        self.stats.add("facilities", len(rows))

    # ---- people helpers -----------------------------------------------------------------------
    def _given(self, gender: str) -> str:
        pool = N.GIVEN_MALE if gender == "M" else N.GIVEN_FEMALE
        return self.rng.choice(pool) + (self.rng.choice(pool) if self.rng.random() < 0.7 else "")

    def _id_number(self, region6: str, birth: dt.date, gender: str) -> str:
        r = self.rng
        seq = r.randint(0, 998)
        for _ in range(1000):
            if (seq % 2 == 1) != (gender == "M"):
                seq = (seq + 1) % 1000
            first17 = f"{region6}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq:03d}"
            if first17 not in self.used_ids:
                self.used_ids.add(first17)
                return first17 + ric_check_digit(first17)
            seq = (seq + 2) % 1000
        raise RuntimeError("ID space exhausted for one birth date")  # 500 per region and day: not reachable

    def _phone(self) -> str:
        return "+86" + self.rng.choice(N.MOBILE_PREFIXES) + f"{self.rng.randint(0, 99_999_999):08d}"

    def _members(self, size: int) -> list[dict]:
        """One household's people: dicts with age, gender, surname, relation_to_head."""
        r = self.rng

        def person(age: int, gender: str, surname: str, rel: str) -> dict:
            return {"age": age, "gender": gender, "surname": surname, "rel": rel}

        head_g = "M" if r.random() < 0.56 else "F"
        other_g = "F" if head_g == "M" else "M"
        sur_head, sur_spouse = self.surname(), self.surname()
        father_sur = sur_head if head_g == "M" else sur_spouse
        if size == 1:
            age = r.randint(66, 93) if r.random() < 0.4 else r.randint(21, 64)
            return [person(age, head_g, sur_head, "本人")]
        if size == 2 and r.random() < 0.12:  # single parent + child
            age = r.randint(30, 55)
            child_g = r.choice("MF")
            return [person(age, head_g, sur_head, "本人"), person(r.randint(0, age - 22), child_g, sur_head, "子" if child_g == "M" else "女")]
        young = size == 2 and r.random() < 0.45
        age = r.randint(25, 40) if young else (r.randint(52, 86) if size == 2 else r.randint(29, 55))
        out = [person(age, head_g, sur_head, "本人"),
               person(max(20, age + r.randint(-4, 4)), other_g, sur_spouse, "配偶")]
        kids = {2: 0, 3: 1, 4: 2, 5: 2}[size]
        grand = 0
        if size == 4 and r.random() < 0.3:
            kids, grand = 1, 1
        elif size == 5:
            kids, grand = (2, 1) if r.random() < 0.6 else (1, 2)
        for _ in range(kids):
            g = r.choice("MF")
            out.append(person(r.randint(0, max(0, age - 23)), g, father_sur, "子" if g == "M" else "女"))
        for k in range(grand):
            g = "M" if (k == 0 and r.random() < 0.5) else "F"
            out.append(person(min(98, age + r.randint(24, 32)), g, father_sur if g == "M" else self.surname(),
                              "父亲" if g == "M" else "母亲"))
        return out

    def _person_fields(self, m: dict) -> dict:
        r = self.rng
        age = m["age"]
        birth = _years_ago(age, r)
        hk = self.hukou()
        gender = m["gender"]
        id_type, nationality = "resident_id", "CHN"
        roll = r.random()
        if roll < 0.002 and age >= 18:
            id_type, nationality = "passport", r.choice(["KOR", "USA", "JPN", "DEU", "RUS"])
            idn = f"{r.choice('EGKMPS')}{r.randint(10_000_000, 99_999_999)}"
        elif roll < 0.004 and age >= 18:
            id_type, idn = "hk_macao_permit", f"{r.choice('HM')}{r.randint(10_000_000, 99_999_999)}"
        else:
            idn = self._id_number(hk[0], birth, gender)
        if id_type != "resident_id":
            while idn in self.used_ids:
                idn = idn[0] + f"{(int(idn[1:]) + 1) % 100_000_000:08d}"
            self.used_ids.add(idn)
        phone = self._phone() if age >= 14 and r.random() < 0.93 else ""
        if age < 18:
            edu = "" if age < 6 else ("小学" if age < 12 else ("初中" if age < 15 else "高中"))
            occ, pol = ("学生" if age >= 6 else ""), ("共青团员" if age >= 14 and r.random() < 0.35 else "群众")
        else:
            edu, pol = self.education(), self.political()
            occ = "退休" if age >= 60 else self.occupation()
        if m["rel"] in ("本人", "配偶") and age >= 22:
            marital = "已婚" if m.get("married", True) else "未婚"
        else:
            marital = "未婚" if age < 30 else "已婚"
        return dict(
            name=m["surname"] + self._given(gender), gender=gender, birth_date=birth, id_type=id_type,
            id_number=pii.encrypt(idn), id_number_index=pii.blind_index(idn, purpose="id_number"), id_number_tail=idn[-4:],
            phone=pii.encrypt(phone) if phone else "", phone_index=pii.blind_index(phone, purpose="phone") if phone else "",
            phone_tail=phone[-4:] if phone else "", ethnicity=self.ethnicity(), hukou_place=hk[1],
            hukou_region_code=hk[0], nationality=nationality, occupation=occ, education=edu,
            political_status=pol, marital_status=marital,
        )

    # ---- places + people, one grid at a time ----------------------------------------------------
    def _estate_name(self) -> str:
        for _ in range(50):
            name = self.rng.choice(N.ESTATE_BASES) + self.rng.choice(N.ESTATE_SUFFIXES)
            if name not in self.estate_names:
                self.estate_names.add(name)
                return name
        name = f"{self.rng.choice(N.ESTATE_BASES)}{len(self.estate_names)}号院"
        self.estate_names.add(name)
        return name

    def build_grid(self, gi: GridInfo) -> None:
        M, r, W = self.M, self.rng, self.writer
        # 1. households for this grid's share of people
        sizes: list[int] = []
        left = gi.persons
        while left > 0:
            s = min(self.hh_size(), left)
            sizes.append(s)
            left -= s
        houses_needed = max(4, math.ceil(len(sizes) / 0.88))
        # 2. estates and buildings until enough houses
        sampler = PointSampler(gi.boundary, r, margin=0.0003)
        estates = []
        for _ in range(1 if houses_needed < 60 else r.randint(1, 3)):
            name = self._estate_name()
            seq = self.estate_seq[gi.community.code] = self.estate_seq.get(gi.community.code, 0) + 1
            lng, lat = sampler.point()
            high = r.random() < 0.45
            built = r.randint(2003, 2022) if high else r.randint(1982, 2005)
            road = r.choice(N.ROADS)
            eid = W[M["Estate"]].add(
                region_id=gi.community.pk, code=f"{gi.community.code}{seq:03d}", name=name,
                address=f"济南市{gi.district.name}{road}{r.randint(1, 399)}号", property_company_id=r.choice(self.companies).pk,
                built_year=built, land_area_m2=Decimal(r.randint(8000, 90000)), green_ratio=Decimal(f"{r.uniform(25, 40):.2f}"),
                lat=lat, lng=lng, facilities=r.sample(["停车场", "充电桩", "快递柜", "健身器材", "儿童游乐区", "门禁", "监控"], 4),
            )
            estates.append({"id": eid, "name": name, "road": road, "high": high, "built": built, "ptype": self.ptype()})
        houses: list[list] = []  # [id, use, property_type, built_year]
        total = k = 0
        while total < houses_needed:
            est = estates[k % len(estates)]
            k += 1
            if est["high"]:
                units, per_floor, floors = r.randint(1, 2), r.choice([2, 2, 3, 4]), r.randint(11, 33)
                structure = r.choice(["shear_wall", "shear_wall", "frame"])
            else:
                units, per_floor, floors, structure = r.randint(2, 3), 2, r.randint(5, 7), "brick_concrete"
            rem = houses_needed - total
            if rem < units * per_floor * floors:
                floors = max(2, math.ceil(rem / (units * per_floor)))
            lng, lat = sampler.point()
            bid = W[M["Building"]].add(
                estate_id=est["id"], region_id=gi.region.pk, number=str(k), name=f"{k}号楼", floors_above=floors,
                floors_below=1 if est["high"] else 0, structure=structure, built_year=est["built"],
                has_elevator=est["high"], lat=lat, lng=lng,
            )
            total += units * per_floor * floors
            for u in range(1, units + 1):
                uid = W[M["Unit"]].add(building_id=bid, number=str(u))
                for fl in range(1, floors + 1):
                    for pos in range(1, per_floor + 1):
                        rooms = self.rooms() if not est["high"] or pos > 1 else r.choice([2, 3, 3, 4])
                        area = {1: r.uniform(38, 60), 2: r.uniform(58, 95), 3: r.uniform(86, 140), 4: r.uniform(120, 185)}[rooms]
                        number = f"{fl}{pos:02d}"
                        ptype = "commercial" if fl == 1 and not est["high"] and r.random() < 0.04 else est["ptype"]
                        houses.append([None, "vacant", ptype, est["built"], dict(
                            building_id=bid, unit_id=uid, region_id=gi.region.pk, number=number, floor=fl,
                            address=f"济南市{gi.district.name}{est['road']}{est['name']}{k}号楼{u}单元{number}室",
                            property_type=ptype, structure=structure,
                            layout=f"{rooms}室{1 if rooms < 3 else 2}厅{1 if rooms < 3 else r.choice([1, 2])}卫",
                            floor_area_m2=Decimal(f"{area:.2f}"), exclusive_area_m2=Decimal(f"{area * r.uniform(0.72, 0.86):.2f}"),
                        )])
        # 3. who lives where: a random subset of houses is occupied; ~22 % of those are rented
        order = list(range(len(houses)))
        r.shuffle(order)
        occupied = order[: len(sizes)]
        tenancy = {}
        for idx in occupied:
            rented = r.random() < 0.22
            tenancy[idx] = rented
            houses[idx][1] = "rented" if rented else "self_occupied"
        for idx in order[len(sizes):]:
            if houses[idx][2] == "commercial":
                houses[idx][1] = "commercial"
        for h in houses:
            h[0] = W[M["House"]].add(use=h[1], **h[4])
            h[4] = None
        self.stats.add("estates", len(estates))
        self.stats.add("buildings", k)
        self.stats.add("houses", len(houses))
        self._people(gi, houses, occupied, sizes, tenancy)

    def _people(self, gi: GridInfo, houses: list, occupied: list[int], sizes: list[int], tenancy: dict[int, bool]) -> None:
        M, r, W = self.M, self.rng, self.writer
        persons, households, residencies, tags = W[M["Person"]], W[M["Household"]], W[M["Residency"]], W[M["Tag"]]
        n_houses = len(houses)
        n_people = n_tags = n_res = 0
        for size, hidx in zip(sizes, occupied, strict=True):
            members = self._members(size)
            house_id, _use, _pt, built, _ = houses[hidx]
            people = []
            for m in members:
                f = self._person_fields(m)
                f["id"] = persons.add(region_id=gi.region.pk, **f)
                people.append(f)
            n_people += len(people)
            head = people[0]
            hh_id = households.add(house_id=house_id, head_id=head["id"], name=f"{head['name']}户", is_active=True)
            if gi is self.account_grid and len(self.resident_heads) < len(RESIDENT_USERNAMES):
                self.resident_heads.append((head["id"], head["name"]))
            rented = tenancy[hidx]
            if rented:
                move_in = ANCHOR - dt.timedelta(days=r.randint(20, 3 * 365))
            else:
                earliest = max(dt.date(built or 2000, 6, 1), head["birth_date"] + dt.timedelta(days=22 * 365))
                move_in = earliest + dt.timedelta(days=r.randint(0, max(1, (ANCHOR - earliest).days)))
            low_income = r.random() < 0.018
            for p, m in zip(people, members, strict=True):
                birth = p["birth_date"]
                mi = max(move_in, birth)
                rel = "tenant" if rented else ("owner" if m["rel"] == "本人" or (m["rel"] == "配偶" and r.random() < 0.5) else "family_member")
                if rel == "family_member" and r.random() < 0.01:
                    rel = "other"
                lease_end = None
                if rented:
                    lease_end = mi + dt.timedelta(days=365 * r.randint(1, 3))
                    if lease_end < ANCHOR and r.random() < 0.7:  # most leases were renewed
                        lease_end = ANCHOR + dt.timedelta(days=r.randint(15, 700))
                residencies.add(person_id=p["id"], house_id=house_id, household_id=hh_id, relation=rel,
                                relation_to_head=m["rel"], move_in=mi, is_actual=r.random() < 0.94, lease_end=lease_end)
                n_res += 1
                if r.random() < 0.06 and n_houses > 1:  # lived elsewhere in this grid before
                    prev = houses[r.randrange(n_houses)][0]
                    prev_in = mi - dt.timedelta(days=r.randint(700, 3650))
                    if prev != house_id and prev_in > birth:
                        residencies.add(person_id=p["id"], house_id=prev, relation=r.choice(["tenant", "owner", "family_member"]),
                                        relation_to_head=m["rel"], move_in=prev_in, move_out=mi - dt.timedelta(days=r.randint(1, 60)),
                                        move_out_reason=r.choice(["购房迁出", "租期结束", "工作调动", "投靠亲属"]), is_actual=False)
                        n_res += 1
                age = m["age"]
                new_tags = []
                if len(members) == 1 and age >= 65 and r.random() < 0.85:
                    new_tags.append(dict(group="elderly_alone", since=mi, note="独居"))
                if age < 18:
                    new_tags.append(dict(group="minor", since=birth, until=_add_years(birth, 18)))
                if r.random() < 0.016:
                    new_tags.append(dict(group="disabled", since=mi, level=r.choice(["一级", "二级", "三级", "四级", "四级"]),
                                         note=r.choice(["肢体残疾", "视力残疾", "听力残疾", "言语残疾", "智力残疾"])))
                if low_income:
                    new_tags.append(dict(group="low_income", since=ANCHOR - dt.timedelta(days=r.randint(30, 2000)), note="城市低保"))
                if r.random() < 0.005:
                    new_tags.append(dict(group="key_care", since=mi, note=r.choice(["大病救助", "困境儿童", "空巢老人", "失独家庭"])))
                for t in new_tags:
                    tags.add(person_id=p["id"], **t)
                n_tags += len(new_tags)
        self.stats.add("persons", n_people)
        self.stats.add("households", len(sizes))
        self.stats.add("residencies", n_res)
        self.stats.add("special_group_tags", n_tags)

    # ---- accounts -----------------------------------------------------------------------------
    def build_accounts(self) -> None:
        from linli.orgs.models import Account, AccountKind, RoleAssignment
        from linli.people.models import Consent

        roles = ensure_roles()
        pw = make_password(DEMO_PASSWORD)  # hashed once: the same demo password for every account
        gi = self.account_grid
        street = gi.street
        scope = {"city": self.regions[N.CITY[0]], "district": gi.district, "street": street, "community": gi.community, "grid": gi.region}
        org = {"street": self.office_by_region[street.pk], "community": self.committee_by_region[gi.community.pk],
               "grid": self.committee_by_region[gi.community.pk], "city": None, "district": None}
        for username, display, role_code, scope_key, _label, _surface in STAFF_PLAN:
            organisation = org[scope_key]
            if role_code == "property_manager":
                organisation = self.companies[0]
            acc = Account.objects.create(
                username=username, password=pw, kind=AccountKind.STAFF, display_name=display, organisation=organisation,
                is_superuser=username == "admin", is_staff=username == "admin",
            )
            RoleAssignment.objects.create(account=acc, role=roles[role_code], region=scope[scope_key])
            if username == "grid":
                grid_account = acc
        for username, (person_id, name) in zip(RESIDENT_USERNAMES, self.resident_heads, strict=False):
            Account.objects.create(username=username, password=pw, kind=AccountKind.RESIDENT, display_name=name, person_id=person_id)
            Consent.objects.create(person_id=person_id, purpose="data_processing", granted_at=dt.datetime(2026, 1, 5, 2, tzinfo=dt.UTC),
                                   channel="portal")
        self.stats.add("accounts", len(STAFF_PLAN) + len(self.resident_heads))
        from . import patrols  # C6: routes, a week of patrols and today's tasks for the demo grid workers

        for key, n in patrols.build(grid=gi.region, grid_worker=grid_account, community=gi.community, password_hash=pw, rng=self.rng,
                                    role=roles["grid_worker"]).items():
            self.stats.add(key, n)
        from linli.access import (
            demo as access_demo,  # A1–A5: gates with a day of events, visitors, a watch list
        )

        for key, n in access_demo.build(resident_person_ids=[pid for pid, _name in self.resident_heads], rng=self.rng).items():
            self.stats.add(key, n)

    # ---- iot: bins on a route and a transfer station with history (linli.iot.demo) ------------
    def build_iot(self) -> None:
        from linli.iot.demo import build as build_iot
        from linli.orgs.models import Account

        t0 = time.perf_counter()
        gi = self.account_grid
        self.stats.counts.update(build_iot(actor=Account.objects.get(username="admin"), region=gi.region,
                                           community_name=gi.community.name, seed=self.seed))
        self.stats.timings["iot_s"] = round(time.perf_counter() - t0, 2)

    def build_calls(self) -> None:
        """A handful of past hotline calls (L1) from residents of the accounts' grid."""
        from linli.orgs.models import Account
        from linli.people.models import Residency

        from .calls import build_calls

        agent = Account.objects.get(username="hotline")
        rows = (Residency.objects.filter(house__region=self.account_grid.region, move_out__isnull=True).exclude(person__phone_index="")
                .select_related("person", "house", "house__building", "house__building__estate", "house__region").order_by("id")[:3])
        now = dt.datetime.combine(ANCHOR, dt.time(18, 0), tzinfo=dt.UTC)
        self.stats.add("hotline_calls", build_calls(agent=agent, persons=[(r.person, r.house) for r in rows], now=now, log=self.log))

    def build_parking(self) -> None:
        """K1–K5: two lots with zones, passes, vehicles and today's traffic (linli.parking.demo)."""
        from linli.parking.demo import build

        t0 = time.perf_counter()
        for key, n in build(seed=self.seed, log=self.log).items():
            if isinstance(n, int) and not isinstance(n, bool):
                self.stats.add(f"parking_{key}", n)
        self.stats.timings["parking_s"] = round(time.perf_counter() - t0, 2)

    def build_sharing(self) -> None:
        """K6/K7: shared spaces, a booking and two charger piles in the demo community (linli.parking.demo_sharing)."""
        from linli.orgs.models import Account
        from linli.parking.demo_sharing import build

        gi = self.account_grid
        counts = build(community=gi.community, grid=gi.region, owners=[pid for pid, _ in self.resident_heads],
                       admin=Account.objects.get(username="admin"), log=self.log)
        for key, n in counts.items():
            self.stats.add(key, n)

    # ---- run ----------------------------------------------------------------------------------
    def run(self) -> Stats:
        t0 = time.perf_counter()
        # DEBUG's query log (CursorDebugWrapper) would cost a third of the time and hold every statement.
        with override_settings(DEBUG=False), transaction.atomic():
            self.build_tree()
            self.build_orgs()
            self.build_facilities()
            self.stats.timings["tree_orgs_s"] = round(time.perf_counter() - t0, 2)
            weights = [self.rng.uniform(0.6, 1.4) for _ in self.grids]
            total_w = sum(weights)
            assigned = 0
            for gi, w in zip(self.grids, weights, strict=True):
                gi.persons = int(self.n_persons * w / total_w)
                assigned += gi.persons
            for i in range(self.n_persons - assigned):
                self.grids[i % len(self.grids)].persons += 1
            t1 = time.perf_counter()
            self.account_grid = next(g for g in self.grids if g.street.name == "解放路街道")
            self.resident_heads: list[tuple[int, str]] = []
            self.writer = BulkWriter()
            for n, gi in enumerate(self.grids, start=1):
                self.build_grid(gi)
                if n % max(1, len(self.grids) // 10) == 0:
                    done = self.stats.counts.get("persons", 0)
                    self.log(f"  {n}/{len(self.grids)} grids, {done:,} persons, {time.perf_counter() - t1:.1f}s")
            self.writer.close()
            self.stats.timings["places_people_s"] = round(time.perf_counter() - t1, 2)
            self.build_accounts()
            self.build_iot()
            self.build_calls()
            self.build_parking()
            self.build_sharing()
            from linli.audit.services import record

            record(actor=None, action="demo.load", object_type="demo", object_id=self.seed,
                   detail={"seed": self.seed, "persons": self.n_persons, "counts": self.stats.counts})
        if connection.vendor == "postgresql":  # planner statistics for the freshly loaded tables
            with connection.cursor() as cur:
                for model in self.writer.tables:
                    cur.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        self.stats.timings["total_s"] = round(time.perf_counter() - t0, 2)
        return self.stats


__all__ = ["ANCHOR", "BBOX", "Builder"]
