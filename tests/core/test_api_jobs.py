"""/api/v1/jobs: upload an import, follow it, read row errors, export and download (O2 O3)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from linli.orgs.perms import Perm
from tests import factories as f
from tests.jobs_helpers import _media_in_tmp, csv_bytes  # noqa: F401

pytestmark = pytest.mark.django_db


def test_O3_api_import_progress_errors_and_isolation(tree, api_as, django_capture_on_commit_callbacks):
    actor = f.account(perms=[Perm.DATA_IMPORT, Perm.PERSON_VIEW, Perm.PERSON_EDIT], scope=tree.community_a)
    api = api_as(actor)
    content = csv_bytes([["name", "id_number", "grid_code"], ["甲", f.make_id_number(seq=7), tree.grid_a.code], ["乙", "123", tree.grid_a.code]])
    with django_capture_on_commit_callbacks(execute=True):
        r = api.client.post("/api/v1/jobs/import", {"kind": "import.persons", "file": SimpleUploadedFile("p.csv", content)},
                            headers=api.headers)
    assert r.status_code == 201, r.content
    job_id = r.json()["id"]
    body = api.get(f"jobs/{job_id}").json()
    assert (body["status"], body["percent"], body["succeeded"], body["failed"], body["label"]) == ("succeeded", 100, 1, 1, "人员导入")
    errors = api.get(f"jobs/{job_id}/errors").json()["items"]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [(3, "证件号码", "person.id_number_format")]
    other = api_as(f.account(perms=[Perm.DATA_IMPORT], scope=tree.community_a))
    assert other.get(f"jobs/{job_id}").status_code == 404
    assert other.get(f"jobs/{job_id}/errors").status_code == 404
    assert other.get("jobs").json()["items"] == []
    assert [j["id"] for j in api.get("jobs").json()["items"]] == [job_id]


def test_O3_api_import_rejects_bad_file_and_missing_permission(tree, api_as):
    actor = f.account(perms=[Perm.DATA_IMPORT], scope=tree.community_a)
    api = api_as(actor)
    r = api.client.post("/api/v1/jobs/import", {"kind": "import.persons", "file": SimpleUploadedFile("p.exe", b"MZ")}, headers=api.headers)
    assert r.status_code == 422 and r.json()["code"] == "job.file_type"
    viewer = api_as(f.account(perms=[Perm.PERSON_VIEW], scope=tree.community_a))
    r = viewer.client.post("/api/v1/jobs/import", {"kind": "import.persons", "file": SimpleUploadedFile("p.csv", b"a")}, headers=viewer.headers)
    assert r.status_code == 403 and r.json()["code"] == "job.permission"


def test_H1_api_export_and_download(tree, api_as, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    f.person(tree.grid_a, name="导出者")
    actor = f.account(perms=[Perm.DATA_EXPORT, Perm.PERSON_VIEW], scope=tree.community_a)
    api = api_as(actor)
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("jobs/export", {"kind": "export.persons", "format": "csv"})
    assert r.status_code == 201, r.content
    job_id = r.json()["id"]
    assert api.get(f"jobs/{job_id}").json()["has_result"] is True
    r = api.get(f"jobs/{job_id}/result")
    assert r.status_code == 200 and "导出者" in b"".join(r.streaming_content).decode("utf-8-sig")
    assert api_as(f.account(perms=[Perm.DATA_EXPORT], scope=tree.community_a)).get(f"jobs/{job_id}/result").status_code == 404
    r = api.post("jobs/export", {"kind": "export.persons", "reveal": True, "purpose": "核对"})
    assert r.status_code == 403 and r.json()["code"] == "export.reveal_forbidden"
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            api.post("jobs/export", {"kind": "export.houses", "format": "xlsx"})
    with django_assert_max_num_queries(6):
        assert len(api.get("jobs", {"limit": 10}).json()["items"]) == 4
