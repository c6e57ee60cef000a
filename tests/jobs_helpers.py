"""Helpers for job tests: start a job from bytes and run it (tasks run immediately in tests)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from linli.core import jobs


def csv_bytes(rows: list[list[str]]) -> bytes:
    import csv

    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def start(capture, actor, kind: str, content: bytes | None = None, name: str = "data.csv", params: dict | None = None):
    """Create the job and run the on-commit enqueue (ImmediateBackend runs it); return it refreshed."""
    upload = SimpleUploadedFile(name, content) if content is not None else None
    with capture(execute=True):
        job = jobs.job_create(actor=actor, kind=kind, params=params or {}, upload=upload)
    job.refresh_from_db()
    return job


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Job files go to a per-test folder, never to the developer's var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
