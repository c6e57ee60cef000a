"""API schemas of the case loop: separate In and Out; personal data only masked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from linli.core.pii import mask_name
from linli.orgs.models import AccountKind

from .models import OPEN_STATUSES, Case, CaseEvent, Channel, Priority, Status

_OPEN = {s.value for s in OPEN_STATUSES}


class Ref(Schema):
    id: int
    name: str


class CategoryOut(Schema):
    id: int
    code: str
    name: str
    parent_id: int | None
    description: str
    time_limit_hours: int
    priority: str
    working_hours: bool
    is_urgent: bool


class RoutingRuleIn(Schema):
    region_id: int
    organisation_id: int
    category_id: int | None = None
    time_limit_hours: int | None = Field(None, gt=0, le=24 * 365)
    priority: Priority | None = None
    note: str = Field("", max_length=200)
    is_active: bool = True


class CalendarDayIn(Schema):
    date: dt.date
    is_workday: bool
    name: str = Field("", max_length=40)


class CalendarYearIn(Schema):
    """The whole year's exceptions to Monday–Friday: holidays (is_workday false) and adjusted weekend
    working days 调休 (is_workday true). Replaces what was stored for that year."""

    days: list[CalendarDayIn] = Field(..., max_length=120)
    confirmed: bool = Field(..., description="true: this is the State Council's published schedule")
    source: str = Field("", max_length=200)


class CalendarDayOut(Schema):
    date: dt.date
    is_workday: bool
    name: str
    source: str


class CalendarYearOut(Schema):
    year: int
    confirmed: bool
    source: str
    fallback: str
    days: list[CalendarDayOut]


class RoutingRulePatch(Schema):
    region_id: int | None = None
    organisation_id: int | None = None
    category_id: int | None = None
    time_limit_hours: int | None = Field(None, gt=0, le=24 * 365)
    priority: Priority | None = None
    note: str | None = Field(None, max_length=200)
    is_active: bool | None = None


class RoutingRuleOut(Schema):
    id: int
    region: Ref
    category: Ref | None
    organisation: Ref
    time_limit_hours: int | None
    priority: str
    note: str
    is_active: bool


def _account_label(acc: Any) -> str:
    if acc is None:
        return ""
    name = acc.display_name or acc.username
    return mask_name(name) if acc.kind == AccountKind.RESIDENT else name


class CaseOut(Schema):
    id: int
    number: str
    channel: str
    category: Ref
    title: str
    lat: float | None
    lng: float | None
    address: str
    region: Ref
    status: str
    status_label: str
    priority: str
    assigned_org: Ref | None
    assigned_account: Ref | None
    escalation_level: int
    warned: bool
    overdue: bool
    due_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    allowed_actions: list[str]

    @staticmethod
    def resolve_status_label(obj: Case) -> str:
        return str(Status(obj.status).label)

    @staticmethod
    def resolve_assigned_account(obj: Case) -> dict | None:
        acc = obj.assigned_account
        return {"id": acc.pk, "name": _account_label(acc)} if acc else None

    @staticmethod
    def resolve_warned(obj: Case) -> bool:
        return obj.warned_at is not None

    @staticmethod
    def resolve_overdue(obj: Case) -> bool:
        from django.utils import timezone

        return obj.status in _OPEN and obj.due_at < timezone.now()

    @staticmethod
    def resolve_allowed_actions(obj: Case) -> list[str]:
        from .services import allowed_actions

        return allowed_actions(obj.status)


class EventOut(Schema):
    seq: int
    kind: str
    actor: str
    from_status: str
    to_status: str
    organisation: Ref | None
    note: str
    photos: list[str]
    data: dict[str, Any]
    created_at: dt.datetime

    @staticmethod
    def resolve_actor(obj: CaseEvent) -> str:
        return _account_label(obj.actor) if obj.actor_id else "系统"


class CaseDetailOut(CaseOut):
    description: str
    house_id: int | None
    photos: list[str]
    reporter_contact_masked: str
    external_ref: str
    time_limit_hours: int
    working_hours: bool
    warn_at: dt.datetime
    escalate2_at: dt.datetime
    accepted_at: dt.datetime | None
    dispatched_at: dt.datetime | None
    started_at: dt.datetime | None
    resolved_at: dt.datetime | None
    verified_at: dt.datetime | None
    closed_at: dt.datetime | None
    reopen_count: int
    merged_into: str | None
    co_handling_orgs: list[Ref]
    timeline: list[EventOut]

    @staticmethod
    def resolve_merged_into(obj: Case) -> str | None:
        return obj.merged_into.number if obj.merged_into_id else None


class DuplicateOut(Schema):
    id: int
    number: str
    title: str
    status: str
    distance_m: float
    created_at: dt.datetime


class ReportOut(CaseOut):
    duplicate_candidates: list[DuplicateOut]


class ReportIn(Schema):
    channel: Channel = Channel.PORTAL
    category_id: int
    title: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=5000)
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    house_id: int | None = None
    region_id: int | None = None
    address: str = Field("", max_length=200)
    photos: list[str] = Field(default_factory=list, max_length=9)
    reporter_contact: str = Field("", max_length=120)
    reporter_person_id: int | None = None


class NoteIn(Schema):
    note: str = Field("", max_length=2000)
    photos: list[str] = Field(default_factory=list, max_length=9)


class DispatchIn(NoteIn):
    organisation_id: int | None = None
    account_id: int | None = None


class ReassignIn(NoteIn):
    organisation_id: int
    account_id: int | None = None


class TransferIn(NoteIn):
    organisation_id: int


class CoHandleIn(Schema):
    organisation_ids: list[int] = Field(..., min_length=1, max_length=20)
    note: str = Field("", max_length=300)


class MergeIn(Schema):
    into_id: int
    note: str = Field("", max_length=2000)


class RateIn(Schema):
    score: int = Field(..., ge=1, le=5)
    comment: str = Field("", max_length=500)


class RatingOut(Schema):
    id: int
    case_id: int
    round: int
    score: int
    comment: str
    on_behalf: bool
    created_at: dt.datetime


class NotificationOut(Schema):
    id: int
    kind: str
    message: str
    case_id: int | None
    case_number: str | None
    created_at: dt.datetime
    read_at: dt.datetime | None

    @staticmethod
    def resolve_case_number(obj: Any) -> str | None:
        return obj.case.number if obj.case_id else None


class MarkReadIn(Schema):
    ids: list[int] | None = Field(None, max_length=500)


class CountOut(Schema):
    count: int


class LeagueRowOut(Schema):
    id: int
    name: str
    cases: int
    resolved: int
    on_time: int
    on_time_rate: float | None
    reopened: int
    reopen_rate: float | None
    overdue_open: int
    ratings: int
    satisfaction: float | None
