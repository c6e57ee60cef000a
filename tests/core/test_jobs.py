"""Background job mechanics: life cycle, idempotency, limits, permission, privacy of jobs (O2 O3)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from linli.audit.models import AuditEntry
from linli.core import jobs
from linli.core.errors import Forbidden, Invalid, NotFound
from linli.core.models import Job, JobError, JobStatus
from linli.orgs.perms import Perm
from linli.people.models import Person
from tests import factories as f
from tests.jobs_helpers import _media_in_tmp, csv_bytes, start  # noqa: F401

pytestmark = pytest.mark.django_db
IMPORTER = [Perm.DATA_IMPORT, Perm.PERSON_VIEW, Perm.PERSON_EDIT, Perm.HOUSEHOLD_EDIT]


@pytest.fixture
def actor(tree):
    return f.account(perms=IMPORTER, scope=tree.community_a)


def rows_for(tree, n: int) -> bytes:
    return csv_bytes([["姓名", "证件号码", "所属网格编码"]] + [[f"人{i}", f.make_id_number(seq=100 + i), tree.grid_a.code] for i in range(n)])


def test_O3_job_lifecycle_audited_and_files_private(tree, actor, django_capture_on_commit_callbacks):
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", rows_for(tree, 3), "p.csv")
    assert job.status == JobStatus.SUCCEEDED and job.started_at and job.finished_at
    assert (job.total, job.processed, job.succeeded, job.failed, job.percent) == (3, 3, 3, 0, 100)
    assert job.input_file == f"jobs/{job.pk}/input.csv" and jobs._abs(job.input_file).is_file()
    assert AuditEntry.objects.filter(action="job.create", object_id=str(job.pk)).exists()
    assert AuditEntry.objects.filter(action="person.create").count() == 3
    path, name = jobs.job_file(actor=actor, job_id=job.pk, which="input")
    assert path.read_bytes().startswith("姓名".encode()) and name == "p.csv"


def test_O3_finished_job_rerun_is_noop(tree, actor, django_capture_on_commit_callbacks):
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", rows_for(tree, 2))
    assert jobs.run_job(job.pk) == "skipped"
    job.refresh_from_db()
    assert job.processed == 2 and Person.objects.count() == 2


def test_O3_interrupted_job_resumes_after_committed_rows(tree, actor):
    content = rows_for(tree, 3)
    job = jobs.job_create(actor=actor, kind="import.persons", upload=SimpleUploadedFile("p.csv", content))  # not run (no commit)
    # Simulate a worker that committed the first row's batch, then died.
    f.person(tree.grid_a, name="人0", id_number=f.make_id_number(seq=100))
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, total=3, processed=1, succeeded=1)
    assert jobs.run_job(job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.processed, job.succeeded, job.failed) == (3, 3, 0)
    assert not JobError.objects.filter(job=job).exists()
    assert Person.objects.count() == 3


def test_O2_job_needs_permission_and_valid_file(tree, actor):
    viewer = f.account(perms=[Perm.PERSON_VIEW], scope=tree.community_a)
    with pytest.raises(Forbidden):
        jobs.job_create(actor=viewer, kind="import.persons", upload=SimpleUploadedFile("a.csv", b"x"))
    with pytest.raises(Invalid) as exc:
        jobs.job_create(actor=actor, kind="import.persons", upload=SimpleUploadedFile("a.txt", b"x"))
    assert exc.value.code == "job.file_type"
    with pytest.raises(Invalid) as exc:
        jobs.job_create(actor=actor, kind="import.persons", upload=None)
    assert exc.value.code == "job.file_required"
    with pytest.raises(Invalid) as exc:
        jobs.job_create(actor=actor, kind="nope", upload=None)
    assert exc.value.code == "job.kind_unknown"


def test_O3_file_size_and_row_limits(tree, actor, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(jobs, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(Invalid) as exc:
        jobs.job_create(actor=actor, kind="import.persons", upload=SimpleUploadedFile("a.csv", b"x" * 11))
    assert exc.value.code == "job.file_too_large" and "MB" in exc.value.message
    monkeypatch.setattr(jobs, "MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
    monkeypatch.setattr(jobs, "MAX_ROWS", 2)
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", rows_for(tree, 3))
    assert job.status == JobStatus.FAILED and job.error_code == "job.too_many_rows" and "2" in job.error_message
    assert Person.objects.count() == 0


def test_O2_job_of_another_user_is_404_and_not_listed(tree, actor, django_capture_on_commit_callbacks):
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", rows_for(tree, 1))
    other = f.account(perms=IMPORTER, scope=tree.community_a)
    for call in (lambda: jobs.job_get(actor=other, job_id=job.pk), lambda: jobs.job_errors(actor=other, job_id=job.pk),
                 lambda: jobs.job_file(actor=other, job_id=job.pk, which="input")):
        with pytest.raises(NotFound):
            call()
    assert jobs.job_list(actor=other)[0] == []
    assert [j.pk for j in jobs.job_list(actor=actor)[0]] == [job.pk]


def test_O3_error_report_csv_and_templates(tree, actor, django_capture_on_commit_callbacks):
    content = csv_bytes([["姓名", "证件号码", "所属网格编码"], ["甲", "123", tree.grid_a.code]])
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", content)
    text = "".join(jobs.job_errors_csv(actor=actor, job_id=job.pk))
    assert text.startswith("\ufeff行号,列,错误代码,说明") and "2,证件号码,person.id_number_format" in text
    body, name, ctype = jobs.template_file("import.persons", "csv")
    assert body.decode("utf-8-sig").startswith("姓名*,证件类型,证件号码*") and name.endswith(".csv")
    body, name, _ = jobs.template_file("import.houses", "xlsx")
    from io import BytesIO

    from openpyxl import load_workbook

    wb = load_workbook(BytesIO(body))
    assert wb.worksheets[0]["A1"].value == "小区编码*" and wb.worksheets[1].title == "说明"
    with pytest.raises(NotFound):
        jobs.template_file("export.persons", "csv")
