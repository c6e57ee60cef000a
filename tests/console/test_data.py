"""Console import/export pages (/console/data/): upload, progress partial, errors, downloads, privacy."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from linli.core.models import Job
from linli.orgs.perms import Perm
from tests import factories as f
from tests.jobs_helpers import _media_in_tmp, csv_bytes  # noqa: F401

pytestmark = pytest.mark.django_db


def client_for(acc) -> Client:
    c = Client()
    c.force_login(acc)
    return c


@pytest.fixture
def importer(tree):
    return f.account(perms=[Perm.DATA_IMPORT, Perm.DATA_EXPORT, Perm.PERSON_VIEW, Perm.PERSON_EDIT], scope=tree.community_a)


def test_O3_console_import_flow_with_row_error(tree, importer, django_capture_on_commit_callbacks):
    c = client_for(importer)
    home = c.get(reverse("console:data_home"))
    assert home.status_code == 200 and "人员导入" in home.text and "房屋导入" in home.text
    content = csv_bytes([["姓名", "证件号码", "所属网格编码"], ["甲", f.make_id_number(seq=3), tree.grid_a.code], ["乙", "1234", tree.grid_a.code]])
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(reverse("console:data_import"), {"kind": "import.persons", "file": SimpleUploadedFile("p.csv", content)})
    job = Job.objects.get()
    assert r.status_code == 302 and r.url == reverse("console:data_job", args=[job.pk])
    page = c.get(r.url)
    assert page.status_code == 200 and "100%" in page.text and "证件号码" in page.text and "person.id_number_format" in page.text
    assert 'hx-trigger="every 1s"' not in page.text  # finished: polling stops
    status = c.get(reverse("console:data_job_status", args=[job.pk]), headers={"HX-Request": "true"})
    assert status.status_code == 200 and 'id="job-status"' in status.text
    errors = c.get(reverse("console:data_job_errors_csv", args=[job.pk]))
    assert "3,证件号码,person.id_number_format" in b"".join(errors.streaming_content).decode("utf-8-sig")
    assert c.get(reverse("console:data_home")).text.count(f"#{job.pk}") == 1


def test_O3_running_job_page_polls(tree, importer):
    job = Job.objects.create(kind="import.persons", actor=importer, status="running", total=10, processed=4)
    page = client_for(importer).get(reverse("console:data_job", args=[job.pk]))
    assert 'hx-trigger="every 1s"' in page.text and 'value="40"' in page.text


def test_O2_console_job_of_other_user_is_404(tree, importer):
    job = Job.objects.create(kind="import.persons", actor=importer)
    other = client_for(f.account(perms=[Perm.DATA_IMPORT], scope=tree.community_a))
    for name, args in (("console:data_job", [job.pk]), ("console:data_job_errors_csv", [job.pk]), ("console:data_job_file", [job.pk, "input"])):
        assert other.get(reverse(name, args=args)).status_code == 404


def test_O3_console_rejects_bad_upload_and_serves_templates(tree, importer):
    c = client_for(importer)
    r = c.post(reverse("console:data_import"), {"kind": "import.persons", "file": SimpleUploadedFile("p.txt", b"abc")})
    assert r.status_code == 422 and "CSV" in r.text
    t = c.get(reverse("console:data_template", args=["import.persons", "xlsx"]))
    assert t.status_code == 200 and t["Content-Type"].startswith("application/vnd.openxmlformats")
    viewer = client_for(f.account(perms=[Perm.PERSON_VIEW], scope=tree.community_a))
    assert viewer.get(reverse("console:data_template", args=["import.persons", "csv"])).status_code == 403


def test_H1_console_export_masked(tree, importer, django_capture_on_commit_callbacks):
    idn = f.make_id_number(seq=9)
    f.person(tree.grid_a, name="控制台导出", id_number=idn)
    c = client_for(importer)
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(reverse("console:data_export"), {"kind": "export.persons", "format": "csv"})
    job = Job.objects.get()
    assert r.status_code == 302
    page = c.get(r.url)
    assert "下载导出文件" in page.text
    body = b"".join(c.get(reverse("console:data_job_file", args=[job.pk, "result"])).streaming_content).decode("utf-8-sig")
    assert "控制台导出" in body and idn not in body
    r = c.post(reverse("console:data_export"), {"kind": "export.persons", "format": "csv", "reveal": "on", "purpose": "核对"})
    assert r.status_code == 403 and "export.reveal_forbidden" in r.text


def test_O2_resident_cannot_use_data_pages(tree):
    resident = f.account(kind="resident")
    r = client_for(resident).get(reverse("console:data_home"))
    assert r.status_code == 302 and "/console/login/" in r.url
