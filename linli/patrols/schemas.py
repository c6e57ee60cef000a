"""API schemas of grid patrols (C6): separate In and Out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from .models import MAX_TOLERANCE_M, MIN_TOLERANCE_M, TaskStatus


class Ref(Schema):
    id: int
    name: str


class WorkerRef(Schema):
    id: int
    name: str

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return obj.display_name or obj.username


class CheckpointIn(Schema):
    id: int | None = Field(None, description="an existing checkpoint to keep (its check-ins stay linked)")
    name: str = Field("", max_length=60)
    lat: float = Field(..., ge=-90, le=90)
    lng: float = Field(..., ge=-180, le=180)
    tolerance_m: int | None = Field(None, ge=MIN_TOLERANCE_M, le=MAX_TOLERANCE_M)
    building_id: int | None = None
    house_id: int | None = None


class CheckpointOut(Schema):
    id: int
    seq: int
    name: str
    lat: float
    lng: float
    tolerance_m: int
    building_id: int | None
    house_id: int | None


class RouteIn(Schema):
    region_id: int
    name: str = Field(..., min_length=1, max_length=60)
    description: str = Field("", max_length=300)
    tolerance_m: int = Field(50, ge=MIN_TOLERANCE_M, le=MAX_TOLERANCE_M)
    allow_repeat_checkins: bool = False
    is_active: bool = True
    checkpoints: list[CheckpointIn] = Field(default_factory=list, max_length=100)


class RoutePatch(Schema):
    region_id: int | None = None
    name: str | None = Field(None, min_length=1, max_length=60)
    description: str | None = Field(None, max_length=300)
    tolerance_m: int | None = Field(None, ge=MIN_TOLERANCE_M, le=MAX_TOLERANCE_M)
    allow_repeat_checkins: bool | None = None
    is_active: bool | None = None
    checkpoints: list[CheckpointIn] | None = Field(None, max_length=100, description="replaces the ordered list when given")


class RouteOut(Schema):
    id: int
    region: Ref
    name: str
    description: str
    tolerance_m: int
    allow_repeat_checkins: bool
    is_active: bool
    checkpoint_count: int | None = None


class RouteDetailOut(RouteOut):
    checkpoints: list[CheckpointOut]

    @staticmethod
    def resolve_checkpoints(obj: Any) -> list[Any]:
        return getattr(obj, "active_checkpoints", None) or list(obj.checkpoints.filter(is_active=True).order_by("seq"))


class TaskIn(Schema):
    route_id: int
    worker_id: int
    date: dt.date
    start: dt.time
    end: dt.time


class RecurringIn(Schema):
    route_id: int
    worker_id: int
    date_from: dt.date
    date_to: dt.date
    start: dt.time
    end: dt.time
    frequency: str = Field("daily", pattern="^(daily|weekly)$")
    weekdays: list[int] = Field(default_factory=list, max_length=7, description="0 = Monday … 6 = Sunday (weekly)")


class AssignIn(Schema):
    worker_id: int


class NoteIn(Schema):
    note: str = Field("", max_length=500)


class TaskOut(Schema):
    id: int
    route: Ref
    region: Ref
    worker: WorkerRef
    date: dt.date
    window_start: dt.datetime
    window_end: dt.datetime
    status: TaskStatus
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    missed_at: dt.datetime | None
    checkpoint_total: int
    visited_count: int
    coverage: int | None
    note: str


class CheckInIn(Schema):
    lat: float = Field(..., ge=-90, le=90)
    lng: float = Field(..., ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=100000)
    checkpoint_id: int | None = Field(None, description="omit to match the nearest unvisited checkpoint within its radius")
    source: str = Field("gps", pattern="^(gps|map)$")
    photos: list[str] = Field(default_factory=list, max_length=9, description="stored photo references")
    note: str = Field("", max_length=500)


class CheckInOut(Schema):
    id: int
    task_id: int
    checkpoint: Ref | None
    lat: float
    lng: float
    accuracy_m: float | None
    distance_m: float | None
    off_route: bool
    is_repeat: bool
    source: str
    photos: list[str]
    note: str
    at: dt.datetime


class TaskDetailOut(TaskOut):
    checkpoints: list[CheckpointOut]
    checkins: list[CheckInOut]
    findings: list[FindingBrief]

    @staticmethod
    def resolve_checkpoints(obj: Any) -> list[Any]:
        return obj.detail_checkpoints

    @staticmethod
    def resolve_checkins(obj: Any) -> list[Any]:
        return obj.detail_checkins

    @staticmethod
    def resolve_findings(obj: Any) -> list[Any]:
        return obj.detail_findings


class FindingIn(Schema):
    category_id: int
    title: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=4000)
    checkin_id: int | None = Field(None, description="the check-in whose place and photos the case takes")
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    photos: list[str] = Field(default_factory=list, max_length=9)
    confirm_new: bool = Field(False, description="file a new case even though similar open cases are nearby")
    add_to_case_id: int | None = Field(None, description="add the finding to this existing case instead")


class FindingBrief(Schema):
    id: int
    case_id: int
    case_number: str
    checkin_id: int | None
    added_to_existing: bool

    @staticmethod
    def resolve_case_number(obj: Any) -> str:
        return obj.case.number


class FindingOut(FindingBrief):
    case_status: str
    case_channel: str
    case_region: Ref

    @staticmethod
    def resolve_case_status(obj: Any) -> str:
        return obj.case.status

    @staticmethod
    def resolve_case_channel(obj: Any) -> str:
        return obj.case.channel

    @staticmethod
    def resolve_case_region(obj: Any) -> dict[str, Any]:
        return {"id": obj.case.region_id, "name": obj.case.region.name}


TaskDetailOut.model_rebuild()


class CoverageOut(Schema):
    route_id: int
    route_name: str
    region_name: str
    date: dt.date
    planned: int
    reached: int
    coverage: int | None
    tasks: int
    done: int
    missed: int
    in_progress: int
    workers: list[str]


class TrackPointOut(Schema):
    checkin_id: int
    task_id: int
    route: str
    checkpoint: str | None
    lat: float
    lng: float
    at: dt.datetime
    off_route: bool


class TrackOut(Schema):
    worker: WorkerRef
    points: list[TrackPointOut]
