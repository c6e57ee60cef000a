"""H1/H2 person imports through the job machinery: happy path, row errors, CSV and XLSX, scope."""

from __future__ import annotations

import pytest

from linli.core.models import JobError, JobStatus
from linli.orgs.perms import Perm
from linli.people.models import Person, Residency
from tests import factories as f
from tests.jobs_helpers import csv_bytes, start, xlsx_bytes

pytestmark = pytest.mark.django_db

IMPORTER = [Perm.DATA_IMPORT, Perm.PERSON_VIEW, Perm.PERSON_EDIT, Perm.HOUSEHOLD_EDIT, Perm.PLACE_VIEW, Perm.PLACE_EDIT]
HEADER = ["姓名", "证件类型", "证件号码", "手机号", "民族", "户籍地", "所属网格编码", "小区编码", "楼号", "单元", "室号", "与房屋关系", "入住日期"]


@pytest.fixture
def world(tree):
    est = f.estate(tree.community_a, code="EA001", name="甲小区")
    house = f.house(tree.grid_a, est=est, number="101")
    house.building.number = "3"
    house.building.save()
    actor = f.account(perms=IMPORTER, scope=tree.community_a)
    return tree, est, house, actor


def bad_checksum(idn: str) -> str:
    last = idn[-1]
    return idn[:-1] + ("0" if last != "0" else "1")


def test_H1_import_persons_csv_happy_path_and_row_errors(world, django_capture_on_commit_callbacks):
    tree, est, house, actor = world
    ok1, ok2, dup = f.make_id_number(seq=11), f.make_id_number(seq=12, female=True), f.make_id_number(seq=13)
    rows = [
        HEADER,
        ["王小明", "居民身份证", ok1, "13812345678", "汉族", "济南市历下区", "370102001001001", "EA001", "3", "1", "101", "业主", "2021-05-01"],
        ["李小红", "身份证", ok2, "", "回", "", "", "EA001", "3", "1", "101", "家庭成员", "2021/05/01"],
        ["赵错号", "", bad_checksum(f.make_id_number(seq=14)), "", "", "", "370102001001001", "", "", "", "", "", ""],
        ["钱未知", "", f.make_id_number(seq=15), "", "", "", "999999999999999", "", "", "", "", "", ""],
        ["孙越界", "", f.make_id_number(seq=16), "", "", "", tree.grid_b.code, "", "", "", "", "", ""],
        ["周重复", "", dup, "", "", "", "370102001001001", "", "", "", "", "", ""],
        ["吴重复", "", dup, "", "", "", "370102001001001", "", "", "", "", "", ""],
        [],
    ]
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", csv_bytes(rows), "persons.csv")
    assert job.status == JobStatus.SUCCEEDED
    assert (job.total, job.processed, job.succeeded, job.failed, job.percent) == (7, 7, 3, 4, 100)
    errors = {e.row: e for e in JobError.objects.filter(job=job)}
    assert errors[4].code == "person.id_number_checksum" and errors[4].column == "证件号码"
    assert errors[5].code == "region.unknown" and errors[5].column == "所属网格编码"
    assert errors[6].code == "region.out_of_scope"
    assert errors[8].code == "person.duplicate_id_number" and errors[8].column == "证件号码"
    assert set(errors) == {4, 5, 6, 8}
    assert all(e.message for e in errors.values())
    ming = Person.objects.get(name="王小明")
    assert ming.phone == "+8613812345678" and ming.region == tree.grid_a
    hong = Person.objects.get(name="李小红")
    assert hong.ethnicity == "03" and hong.region == tree.grid_a and hong.gender == "F"
    assert Residency.objects.filter(house=house, move_out__isnull=True).count() == 2
    assert not Person.objects.filter(name__in=["赵错号", "钱未知", "孙越界", "吴重复"]).exists()


def test_H1_import_persons_xlsx_with_english_headers(world, django_capture_on_commit_callbacks):
    tree, est, house, actor = world
    rows = [["name", "id_number", "phone", "grid_code", "house_id", "relation", "move_in"],
            ["陈一", f.make_id_number(seq=21), 13912345678, tree.grid_a.code, house.pk, "租户", "2023-01-02"]]
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", xlsx_bytes(rows), "p.xlsx")
    assert job.status == JobStatus.SUCCEEDED and (job.succeeded, job.failed) == (1, 0)
    r = Residency.objects.get(person__name="陈一")
    assert r.house == house and r.relation == "tenant" and str(r.move_in) == "2023-01-02"


def test_H1_import_missing_required_column_fails_job_clearly(world, django_capture_on_commit_callbacks):
    *_, actor = world
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", csv_bytes([["姓名", "手机号"], ["甲", "1"]]))
    assert job.status == JobStatus.FAILED and job.error_code == "job.missing_columns"
    assert "证件号码" in job.error_message


def test_H1_import_house_of_other_community_is_row_error(world, django_capture_on_commit_callbacks):
    tree, est, house, actor = world
    other = f.house(tree.grid_b, number="909")
    rows = [["姓名", "证件号码", "房屋编号"], ["郑二", f.make_id_number(seq=31), str(other.pk)]]
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", csv_bytes(rows))
    err = JobError.objects.get(job=job)
    assert err.code == "house.not_found" and err.column == "房屋编号"


def test_H1_import_gbk_csv(world, django_capture_on_commit_callbacks):
    tree, *_, actor = world
    content = "姓名,证件号码,所属网格编码\r\n冯三,{},{}\r\n".format(f.make_id_number(seq=41), tree.grid_a.code).encode("gb18030")
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", content)
    assert (job.status, job.succeeded) == (JobStatus.SUCCEEDED, 1)
    assert Person.objects.filter(name="冯三").exists()
