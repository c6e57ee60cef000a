"""Background jobs (imports, exports, other long work): creation, progress, files, row errors.

Shared mechanics only. Domain modules register *kinds* (``register(JobKind(...))``) in their
``imports.py`` / ``exports.py``; core discovers those modules and never imports a domain by name.

Life cycle: ``job_create`` (checks permission, stores the upload under MEDIA_ROOT/jobs/<id>/,
enqueues ``linli.core.tasks.run_job`` after commit) → worker ``run_job(job_id)`` → queued →
running → succeeded / failed. Imports commit each batch of rows together with ``processed`` and
the batch's row errors, so a re-run resumes after the last committed row; a finished job is a no-op.
A bad row never aborts an import: it becomes a ``JobError`` (row, column, code, message).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from . import context
from .errors import DomainError, Forbidden, Invalid, NotFound, validation_detail
from .i18n import Msg
from .models import Job, JobError, JobStatus
from .pagination import paginate

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = getattr(settings, "LINLI_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
MAX_ROWS = getattr(settings, "LINLI_IMPORT_MAX_ROWS", 100_000)
BATCH_SIZE = 200
FORMATS = ("csv", "xlsx")


# ---- kinds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of an import/export file: machine key, Chinese header, accepted aliases."""

    key: str
    title: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class ImportSpec:
    columns: tuple[Column, ...]
    handle: Callable[[Any, dict[str, str]], None]
    # error-code prefix or model field name → column key, to place service errors in a column
    error_columns: dict[str, str] = field(default_factory=dict)

    def title_of(self, key: str) -> str:
        return next((c.title for c in self.columns if c.key == key), key)


@dataclass(frozen=True)
class JobKind:
    code: str
    label: str
    perm: str
    run: Callable[[Job], None]
    queue: str = "default"
    import_spec: ImportSpec | None = None
    # validate and clean params before the job is created; raises DomainError
    check: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None

    @property
    def is_import(self) -> bool:
        return self.import_spec is not None


_KINDS: dict[str, JobKind] = {}
_discovered = False


def register(kind: JobKind) -> JobKind:
    _KINDS[kind.code] = kind
    return kind


def kinds() -> dict[str, JobKind]:
    global _discovered
    if not _discovered:
        autodiscover_modules("imports", "exports")
        _discovered = True
    return _KINDS


def get_kind(code: str) -> JobKind:
    spec = kinds().get(code)
    if spec is None:
        raise Invalid("job.kind_unknown", Msg("未知的任务类型：{kind}", "Unknown job kind: {kind}"), kind=code)
    return spec


def kinds_for(actor: Any, *, imports: bool) -> list[JobKind]:
    """Kinds the actor may start (anywhere in its scope), imports or exports."""
    return [k for k in kinds().values() if k.is_import == imports and actor.has_scoped_perm(k.perm)]


# ---- files ---------------------------------------------------------------------------------


def job_dir(job_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "jobs" / str(job_id)


def _abs(rel: str) -> Path:
    return Path(settings.MEDIA_ROOT) / rel


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check_upload(upload: Any) -> str:
    """Validate an uploaded file (presence, type, size) and return its extension."""
    if upload is None:
        raise Invalid("job.file_required", Msg("请选择要导入的文件", "Choose a file to import"), detail={"field": "file"})
    ext = _extension(upload.name or "")
    if ext not in FORMATS:
        raise Invalid("job.file_type", Msg("仅支持 CSV 或 Excel(.xlsx) 文件", "Only CSV or Excel (.xlsx) files are supported"),
                      detail={"field": "file"})
    if upload.size > MAX_UPLOAD_BYTES:
        raise Invalid("job.file_too_large", Msg("文件过大：最大 {mb} MB", "File too large: at most {mb} MB"),
                      detail={"field": "file", "max_bytes": MAX_UPLOAD_BYTES}, mb=MAX_UPLOAD_BYTES // (1024 * 1024))
    if upload.size == 0:
        raise Invalid("job.file_empty", Msg("文件为空", "The file is empty"), detail={"field": "file"})
    return ext


# ---- services ------------------------------------------------------------------------------


def check_can_start(actor: Any, spec: JobKind) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_scoped_perm(spec.perm):
        raise Forbidden("job.permission", Msg("没有执行“{label}”的权限", "You may not run “{label}”"), label=spec.label)


@transaction.atomic
def job_create(*, actor: Any, kind: str, params: dict[str, Any] | None = None, upload: Any = None) -> Job:
    """Create a job, store its input file, and enqueue it after commit."""
    from linli.audit.services import record  # audit is cross-cutting; imported lazily

    spec = get_kind(kind)
    check_can_start(actor, spec)
    clean = spec.check(actor, dict(params or {})) if spec.check else dict(params or {})
    ext = check_upload(upload) if spec.is_import else ""
    job = Job.objects.create(kind=spec.code, actor=actor, params=clean, input_name=(upload.name[:255] if upload else ""))
    if upload is not None:
        folder = job_dir(job.pk)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"input.{ext}", "wb") as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
        job.input_file = f"jobs/{job.pk}/input.{ext}"
        job.save(update_fields=["input_file", "updated_at"])
    record(actor=actor, action="job.create", obj=job, after={"kind": job.kind, "params": clean, "input_name": job.input_name})
    transaction.on_commit(lambda: enqueue(job))
    return job


def enqueue(job: Job) -> None:
    from .tasks import run_job

    run_job.using(queue_name=get_kind(job.kind).queue).enqueue(job.pk)


def job_progress(job: Job, *, processed: int = 0, succeeded: int = 0, failed: int = 0, total: int | None = None) -> None:
    """Add to the counters of ``job`` (in the database and on the instance)."""
    changes: dict[str, Any] = {"updated_at": timezone.now()}
    if processed:
        changes["processed"] = F("processed") + processed
    if succeeded:
        changes["succeeded"] = F("succeeded") + succeeded
    if failed:
        changes["failed"] = F("failed") + failed
    if total is not None:
        changes["total"] = total
    Job.objects.filter(pk=job.pk).update(**changes)
    job.processed += processed
    job.succeeded += succeeded
    job.failed += failed
    if total is not None:
        job.total = total


def _finish(job: Job, status: str, *, code: str = "", message: str = "") -> None:
    job.status, job.error_code, job.error_message, job.finished_at = status, code[:64], message[:500], timezone.now()
    job.save(update_fields=["status", "error_code", "error_message", "finished_at", "updated_at"])


def run_job(job_id: int) -> str:
    """Run one job (called by the task). Safe to call twice: a finished job is left alone."""
    job = Job.objects.select_related("actor").filter(pk=job_id).first()
    if job is None or job.is_finished:
        return "skipped"
    spec = get_kind(job.kind)
    job.status = JobStatus.RUNNING
    job.started_at = job.started_at or timezone.now()
    job.save(update_fields=["status", "started_at", "updated_at"])
    token = context.set_current(context.RequestContext(channel="task", request_id=f"job-{job.pk}"))
    try:
        spec.run(job)
    except DomainError as exc:
        _finish(job, JobStatus.FAILED, code=exc.code, message=exc.message)
    except Exception:
        log.exception("job %s (%s) crashed", job.pk, job.kind)
        _finish(job, JobStatus.FAILED, code="job.crashed", message=Msg("任务执行出错，请联系管理员", "The job crashed; contact the administrator").text())
    else:
        _finish(job, JobStatus.SUCCEEDED)
    finally:
        context.reset(token)
    return job.status


# ---- selectors (a job is visible to its actor only) ------------------------------------------


def job_list(*, actor: Any, kind: str | None = None, cursor: str | None = None, limit: int | None = None) -> tuple[list[Job], str | None]:
    qs = Job.objects.filter(actor_id=actor.pk)
    if kind:
        qs = qs.filter(kind=kind)
    return paginate(qs, cursor=cursor, limit=limit)


def job_get(*, actor: Any, job_id: int) -> Job:
    job = Job.objects.filter(pk=job_id, actor_id=getattr(actor, "pk", None)).first()
    if job is None:
        raise NotFound("job.not_found")
    return job


def job_errors(*, actor: Any, job_id: int) -> QuerySet[JobError]:
    job = job_get(actor=actor, job_id=job_id)
    return JobError.objects.filter(job=job).order_by("row", "id")


def job_file(*, actor: Any, job_id: int, which: str) -> tuple[Path, str]:
    """(absolute path, download file name) of a job's input or result file; 404 otherwise."""
    job = job_get(actor=actor, job_id=job_id)
    rel = {"input": job.input_file, "result": job.result_file}.get(which, "")
    if not rel or not _abs(rel).is_file():
        raise NotFound("job.file_not_found", Msg("文件不存在", "File not found"))
    name = job.input_name if which == "input" else f"{job.kind.replace('.', '-')}-{job.pk}.{_extension(rel)}"
    return _abs(rel), name


def job_errors_csv(*, actor: Any, job_id: int) -> Iterator[str]:
    """The row-level error report as CSV chunks (UTF-8 with BOM for Excel); 404 checked up front."""
    return _errors_csv(job_errors(actor=actor, job_id=job_id))


def _errors_csv(rows: QuerySet[JobError]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    yield "\ufeff"
    writer.writerow(["行号", "列", "错误代码", "说明"])
    for e in rows.iterator(chunk_size=2000):
        writer.writerow([e.row, e.column, e.code, e.message])
        if buf.tell() > 16384:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def job_delete_files(job: Job) -> None:
    shutil.rmtree(job_dir(job.pk), ignore_errors=True)


# ---- reading CSV / XLSX ----------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def iter_table(path: Path) -> Iterator[list[str]]:
    """All rows (header first) of a CSV (UTF-8 or GB18030) or the first sheet of an XLSX file."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise Invalid("job.file_unreadable", Msg("无法读取 Excel 文件，请使用 .xlsx 格式", "Cannot read the Excel file; use .xlsx")) from exc
        try:
            for row in wb.worksheets[0].iter_rows(values_only=True):
                yield [_cell(v) for v in row]
        finally:
            wb.close()
        return
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Invalid("job.file_encoding", Msg("无法识别文件编码，请保存为 UTF-8 CSV", "Unknown file encoding; save as UTF-8 CSV"))
    for row in csv.reader(io.StringIO(text, newline="")):
        yield [c.strip() for c in row]


def _norm_header(text: str) -> str:
    return text.replace("*", "").replace("＊", "").replace(" ", "").replace("\u3000", "").strip().lower()


def map_headers(header: list[str], columns: Iterable[Column]) -> dict[int, str]:
    """Header position → column key; a missing required column fails the whole job."""
    lookup: dict[str, str] = {}
    for col in columns:
        for name in (col.title, col.key, *col.aliases):
            lookup[_norm_header(name)] = col.key
    mapping: dict[int, str] = {}
    for i, name in enumerate(header):
        key = lookup.get(_norm_header(name))
        if key and key not in mapping.values():
            mapping[i] = key
    missing = [c.title for c in columns if c.required and c.key not in mapping.values()]
    if missing:
        raise Invalid("job.missing_columns", Msg("缺少必填列：{cols}", "Missing required columns: {cols}"),
                      detail={"columns": missing}, cols="、".join(missing))
    return mapping


class RowError(Exception):
    """One or more problems in a row: [(column key, code, message)]."""

    def __init__(self, problems: list[tuple[str, str, Msg | str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(p[1] for p in problems))

    @classmethod
    def one(cls, column: str, code: str, message: Msg | str) -> RowError:
        return cls([(column, code, message)])


def _text(msg: Msg | str) -> str:
    return msg.text() if isinstance(msg, Msg) else str(msg)


def _row_errors(spec: ImportSpec, job: Job, row_no: int, exc: Exception) -> list[JobError]:
    def err(column_key: str, code: str, message: str) -> JobError:
        title = spec.title_of(column_key) if column_key else ""
        return JobError(job=job, row=row_no, column=title[:60], code=code[:64], message=message[:500])

    if isinstance(exc, RowError):
        return [err(c, code, _text(m)) for c, code, m in exc.problems]
    if isinstance(exc, DomainError):
        column = spec.error_columns.get(str(exc.detail.get("field", "")), "")
        if not column:
            prefixes = [p for p in spec.error_columns if exc.code.startswith(p)]
            column = spec.error_columns[max(prefixes, key=len)] if prefixes else ""
        return [err(column, exc.code, exc.message)]
    if isinstance(exc, ValidationError):
        out = []
        for fname, messages in validation_detail(exc).items():
            for m in messages if isinstance(messages, list) else [messages]:
                out.append(err(spec.error_columns.get(fname, ""), "validation.failed", str(m)))
        return out or [err("", "validation.failed", Msg("数据校验未通过", "Validation failed").text())]
    if isinstance(exc, IntegrityError):
        return [err("", "conflict.integrity", Msg("与已有数据冲突（重复或关联约束）", "Conflicts with existing data").text())]
    log.exception("job %s row %s: unexpected error", job.pk, row_no, exc_info=exc)
    return [err("", "row.unexpected", Msg("该行处理出错", "This row could not be processed").text())]


def run_import(job: Job, spec: ImportSpec) -> None:
    """Read the job's file and hand each data row to ``spec.handle(actor, values)`` in batches."""
    path = _abs(job.input_file)
    if not job.input_file or not path.is_file():
        raise Invalid("job.file_missing", Msg("导入文件不存在", "The import file is missing"))
    rows = iter_table(path)
    header = next(rows, None)
    if not header:
        raise Invalid("job.file_empty", Msg("文件为空", "The file is empty"))
    mapping = map_headers(header, spec.columns)
    total = sum(1 for r in rows if any(r))
    if total > MAX_ROWS:
        raise Invalid("job.too_many_rows", Msg("行数过多：最多 {max} 行，本文件 {n} 行", "Too many rows: at most {max}, this file has {n}"),
                      detail={"max_rows": MAX_ROWS, "rows": total}, max=MAX_ROWS, n=total)
    job_progress(job, total=total)
    actor = job.actor
    skip = job.processed  # rows committed by an earlier run of this job
    batch: list[tuple[int, dict[str, str]]] = []
    seen = 0
    for row_no, raw in enumerate(iter_table(path), start=1):
        if row_no == 1 or not any(raw):
            continue
        seen += 1
        if seen <= skip:
            continue
        batch.append((row_no, {key: (raw[i] if i < len(raw) else "") for i, key in mapping.items()}))
        if len(batch) >= BATCH_SIZE:
            _import_batch(job, spec, actor, batch)
            batch = []
    if batch:
        _import_batch(job, spec, actor, batch)


@transaction.atomic
def _import_batch(job: Job, spec: ImportSpec, actor: Any, batch: list[tuple[int, dict[str, str]]]) -> None:
    errors: list[JobError] = []
    ok = bad = 0
    for row_no, values in batch:
        try:
            with transaction.atomic():
                spec.handle(actor, values)
        except Exception as exc:
            errors.extend(_row_errors(spec, job, row_no, exc))
            bad += 1
        else:
            ok += 1
    JobError.objects.bulk_create(errors)
    job_progress(job, processed=len(batch), succeeded=ok, failed=bad)


# ---- writing CSV / XLSX ----------------------------------------------------------------------


def run_export(job: Job, *, columns: list[Column], total: int, rows: Iterable[dict[str, Any]], fmt: str) -> None:
    """Write ``rows`` to the job's result file (CSV with BOM or XLSX), updating progress in batches."""
    if fmt not in FORMATS:
        raise Invalid("job.format", Msg("导出格式须为 csv 或 xlsx", "Export format must be csv or xlsx"))
    Job.objects.filter(pk=job.pk).update(processed=0, succeeded=0, total=total)  # a re-run starts over
    job.processed = job.succeeded = 0
    job.total = total
    folder = job_dir(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"result.{fmt}.part"
    titles = [c.title for c in columns]
    keys = [c.key for c in columns]
    done = 0

    def rows_out() -> Iterator[list[Any]]:
        nonlocal done
        for r in rows:
            yield [r.get(k, "") for k in keys]
            done += 1
            if done % BATCH_SIZE == 0:
                job_progress(job, processed=BATCH_SIZE, succeeded=BATCH_SIZE)

    if fmt == "csv":
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(titles)
            for values in rows_out():
                writer.writerow(values)
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("数据")
        ws.append(titles)
        for values in rows_out():
            ws.append(values)
        wb.save(tmp)
    final = folder / f"result.{fmt}"
    tmp.replace(final)
    rest = done % BATCH_SIZE
    job_progress(job, processed=rest, succeeded=rest, total=max(total, done))
    job.result_file = f"jobs/{job.pk}/result.{fmt}"
    job.save(update_fields=["result_file", "updated_at"])


# ---- templates -------------------------------------------------------------------------------


def template_file(kind: str, fmt: str) -> tuple[bytes, str, str]:
    """(content, file name, content type) of an empty import template for ``kind``."""
    spec = get_kind(kind)
    if spec.import_spec is None or fmt not in FORMATS:
        raise NotFound("job.template_not_found")
    cols = spec.import_spec.columns
    titles = [c.title + ("*" if c.required else "") for c in cols]
    name = f"{spec.label}模板.{fmt}"
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerow(titles)
        return ("\ufeff" + buf.getvalue()).encode("utf-8"), name, "text/csv; charset=utf-8"
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(titles)
    for i, _ in enumerate(cols, start=1):
        letter = get_column_letter(i)
        ws[f"{letter}1"].font = Font(bold=True)
        ws.column_dimensions[letter].width = 16
        for r in range(2, 1002):  # text format so ID and phone numbers keep every digit
            ws[f"{letter}{r}"].number_format = "@"
    notes = wb.create_sheet("说明")
    notes.append(["列名", "必填", "说明", "英文别名"])
    for c in cols:
        notes.append([c.title, "是" if c.required else "", c.help, ", ".join((c.key, *c.aliases))])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), name, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
