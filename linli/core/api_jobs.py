"""/api/v1/jobs — background imports and exports: start, follow progress, read row errors, download.

A job is visible to the account that started it only (others get 404).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from . import jobs
from .models import Job
from .pagination import paginate
from .schemas import ERRORS, Page

router = Router()


class JobOut(Schema):
    id: int
    kind: str
    label: str
    status: str
    status_label: str
    total: int
    processed: int
    succeeded: int
    failed: int
    percent: int
    params: dict[str, Any]
    input_name: str
    has_result: bool
    error_code: str
    error_message: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_label(obj: Job) -> str:
        spec = jobs.kinds().get(obj.kind)
        return spec.label if spec else obj.kind

    @staticmethod
    def resolve_status_label(obj: Job) -> str:
        return obj.get_status_display()

    @staticmethod
    def resolve_has_result(obj: Job) -> bool:
        return bool(obj.result_file)


class JobErrorOut(Schema):
    id: int
    row: int
    column: str
    code: str
    message: str


class ExportIn(Schema):
    kind: str
    format: str = "csv"
    region_id: int | None = None
    reveal: bool = False
    purpose: str = ""


class JobFilter(Schema):
    kind: str | None = None
    cursor: str | None = None
    limit: int | None = None


@router.get("", response={200: Page[JobOut], **ERRORS}, summary="我的任务")
def job_list(request, filters: Query[JobFilter]):
    rows, next_cursor = jobs.job_list(actor=request.auth, kind=filters.kind, cursor=filters.cursor, limit=filters.limit)
    return {"items": rows, "next_cursor": next_cursor}


@router.post("/import", response={201: JobOut, **ERRORS}, summary="上传文件并开始导入")
def job_import(request, kind: Form[str], file: File[UploadedFile]):
    return Status(201, jobs.job_create(actor=request.auth, kind=kind, upload=file))


@router.post("/export", response={201: JobOut, **ERRORS}, summary="开始导出")
def job_export(request, payload: ExportIn):
    params = payload.dict(exclude={"kind"}, exclude_none=True)
    return Status(201, jobs.job_create(actor=request.auth, kind=payload.kind, params=params))


@router.get("/{int:job_id}", response={200: JobOut, **ERRORS}, summary="任务详情与进度")
def job_detail(request, job_id: int):
    return jobs.job_get(actor=request.auth, job_id=job_id)


@router.get("/{int:job_id}/errors", response={200: Page[JobErrorOut], **ERRORS}, summary="逐行错误报告")
def job_error_list(request, job_id: int, cursor: str | None = None, limit: int | None = None):
    rows, next_cursor = paginate(jobs.job_errors(actor=request.auth, job_id=job_id), cursor=cursor, limit=limit, order="id")
    return {"items": rows, "next_cursor": next_cursor}


@router.get("/{int:job_id}/result", response={200: None, **ERRORS}, summary="下载导出结果")
def job_result(request, job_id: int):
    path, name = jobs.job_file(actor=request.auth, job_id=job_id, which="result")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name)
