"""API schemas for people: separate In (what a client may send) and Out (always masked)."""

from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field

from linli.core.validators import IdType


class TagOut(Schema):
    id: int
    person_id: int
    group: str
    group_label: str
    since: dt.date | None = None
    until: dt.date | None = None
    level: str = ""
    note: str = ""


class PersonOut(Schema):
    id: int
    name: str
    gender: str
    birth_date: dt.date | None = None
    age: int | None = None
    id_type: str
    id_number_masked: str
    phone_masked: str
    ethnicity: str
    ethnicity_label: str
    hukou_place: str
    hukou_region_code: str
    nationality: str
    occupation: str
    employer: str
    education: str
    political_status: str
    marital_status: str
    region_id: int
    region_name: str
    is_deceased: bool
    note: str
    special_tags: list[TagOut] = []
    created_at: dt.datetime
    updated_at: dt.datetime


class PersonIn(Schema):
    name: str = Field(min_length=1, max_length=60)
    id_type: str = Field(default=IdType.RESIDENT_ID, max_length=24)
    id_number: str = Field(min_length=1, max_length=40)
    region_id: int
    phone: str = Field(default="", max_length=30)
    gender: str | None = Field(default=None, max_length=1)
    birth_date: dt.date | None = None
    ethnicity: str = Field(default="01", max_length=2)
    hukou_place: str = Field(default="", max_length=200)
    hukou_region_code: str = Field(default="", max_length=12)
    nationality: str = Field(default="CHN", max_length=3)
    occupation: str = Field(default="", max_length=60)
    employer: str = Field(default="", max_length=120)
    education: str = Field(default="", max_length=20)
    political_status: str = Field(default="", max_length=20)
    marital_status: str = Field(default="", max_length=10)
    note: str = Field(default="", max_length=300)


class PersonPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=60)
    id_type: str | None = Field(default=None, max_length=24)
    id_number: str | None = Field(default=None, min_length=1, max_length=40)
    region_id: int | None = None
    phone: str | None = Field(default=None, max_length=30)
    gender: str | None = Field(default=None, max_length=1)
    birth_date: dt.date | None = None
    ethnicity: str | None = Field(default=None, max_length=2)
    hukou_place: str | None = Field(default=None, max_length=200)
    hukou_region_code: str | None = Field(default=None, max_length=12)
    nationality: str | None = Field(default=None, max_length=3)
    occupation: str | None = Field(default=None, max_length=60)
    employer: str | None = Field(default=None, max_length=120)
    education: str | None = Field(default=None, max_length=20)
    political_status: str | None = Field(default=None, max_length=20)
    marital_status: str | None = Field(default=None, max_length=10)
    is_deceased: bool | None = None
    note: str | None = Field(default=None, max_length=300)


class RevealIn(Schema):
    fields: list[str] = Field(min_length=1, max_length=2)
    purpose: str = Field(min_length=2, max_length=200)


class RevealOut(Schema):
    id_number: str | None = None
    phone: str | None = None


class PersonBriefOut(Schema):
    id: int
    name: str
    gender: str
    age: int | None = None
    id_number_masked: str
    phone_masked: str


class HouseholdIn(Schema):
    house_id: int
    head_id: int | None = None
    name: str = Field(default="", max_length=60)


class HouseholdOut(Schema):
    id: int
    house_id: int
    name: str
    head: PersonBriefOut | None = None
    member_count: int | None = None
    is_active: bool


class MoveInIn(Schema):
    person_id: int
    house_id: int
    relation: str = Field(max_length=20)
    move_in: dt.date
    household_id: int | None = None
    is_actual: bool = True
    lease_end: dt.date | None = None
    relation_to_head: str = Field(default="", max_length=20)


class MoveOutIn(Schema):
    move_out: dt.date
    reason: str = Field(default="", max_length=100)


class ResidencyPatch(Schema):
    is_actual: bool | None = None
    relation: str | None = Field(default=None, max_length=20)
    relation_to_head: str | None = Field(default=None, max_length=20)
    lease_end: dt.date | None = None
    household_id: int | None = None


class ResidencyOut(Schema):
    id: int
    person: PersonBriefOut
    house_id: int
    house_address: str
    household_id: int | None = None
    relation: str
    relation_label: str
    relation_to_head: str
    move_in: dt.date
    move_out: dt.date | None = None
    move_out_reason: str
    is_actual: bool
    is_current: bool
    lease_end: dt.date | None = None


class TagIn(Schema):
    group: str = Field(max_length=20)
    since: dt.date | None = None
    until: dt.date | None = None
    level: str = Field(default="", max_length=30)
    note: str = Field(default="", max_length=200)


class SpecialMemberOut(TagOut):
    person: PersonBriefOut
    region_id: int
    region_name: str


class ConsentIn(Schema):
    purpose: str = Field(max_length=32)
    channel: str = Field(default="staff", max_length=20)
    text_version: str = Field(default="2026-01", max_length=20)


class ConsentOut(Schema):
    id: int
    person_id: int
    purpose: str
    purpose_label: str
    granted_at: dt.datetime
    withdrawn_at: dt.datetime | None = None
    is_active: bool
    text_version: str
    channel: str


class PopulationOut(Schema):
    region_id: int
    region_name: str
    actual: int
    registered_current: int
    not_living: int
    occupied_houses: int
    by_relation: dict[str, int]
