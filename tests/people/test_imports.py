"""H1/H2 person imports through the job machinery: happy path, row errors, CSV and XLSX, scope."""

from __future__ import annotations

import pytest

from linli.core.models import JobError, JobStatus
from linli.orgs.perms import Perm
from linli.people.models import Person, Residency
from tests import factories as f
from tests.jobs_helpers import _media_in_tmp, csv_bytes, start, xlsx_bytes  # noqa: F401

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
    content = f"姓名,证件号码,所属网格编码\r\n冯三,{f.make_id_number(seq=41)},{tree.grid_a.code}\r\n".encode("gb18030")
    job = start(django_capture_on_commit_callbacks, actor, "import.persons", content)
    assert (job.status, job.succeeded) == (JobStatus.SUCCEEDED, 1)
    assert Person.objects.filter(name="冯三").exists()


HOUSE_HEADER = ["小区编码", "楼号", "单元", "室号", "楼层", "所属网格编码", "房屋性质", "房屋结构", "户型", "建筑面积", "专有部分面积"]


def test_P2_import_houses_creates_buildings_units_and_reports_row_errors(world, django_capture_on_commit_callbacks):
    from linli.places.models import Building, House

    tree, est, house, actor = world
    f.estate(tree.community_b, code="EB001")
    rows = [
        HOUSE_HEADER,
        ["EA001", "8", "2", "301", "3", tree.grid_a.code, "商品房", "框架结构", "3室2厅1卫", "120.5", "100"],
        ["EA001", "8", "2", "302", "3", "", "安置房", "", "", "", ""],
        ["EA001", "8", "2", "301", "3", "", "", "", "", "", ""],        # duplicate room
        ["EA001", "9", "", "101", "1", "", "", "", "", "", ""],         # new building without grid code
        ["EA001", "8", "2", "303", "三", "", "", "", "", "90", "95"],    # bad floor
        ["EB001", "1", "1", "101", "1", tree.grid_b.code, "", "", "", "", ""],  # estate of another community
        ["EA001", "8", "2", "304", "3", "", "别墅", "", "", "", ""],      # unknown property type
    ]
    job = start(django_capture_on_commit_callbacks, actor, "import.houses", xlsx_bytes(rows), "houses.xlsx")
    assert job.status == JobStatus.SUCCEEDED and (job.total, job.succeeded, job.failed) == (7, 2, 5)
    errors = {e.row: (e.column, e.code) for e in JobError.objects.filter(job=job)}
    assert errors[4] == ("室号", "house.number_taken")
    assert errors[5] == ("所属网格编码", "row.required")
    assert errors[6] == ("楼层", "row.integer")
    assert errors[7] == ("小区编码", "estate.not_found")
    assert errors[8] == ("房屋性质", "row.choice")
    b = Building.objects.get(estate=est, number="8")
    assert b.region == tree.grid_a
    h = House.objects.get(building=b, number="301")
    assert h.unit.number == "2" and h.structure == "frame" and str(h.floor_area_m2) == "120.50"
    assert House.objects.get(building=b, number="302").property_type == "resettlement"


# ---- exports -------------------------------------------------------------------------------


def _read(job) -> str:
    from linli.core import jobs

    path, _ = jobs.job_file(actor=job.actor, job_id=job.pk, which="result")
    return path.read_text(encoding="utf-8-sig")


def test_H1_export_persons_masked_by_default_and_scoped(tree, django_capture_on_commit_callbacks):
    from linli.core.errors import Forbidden

    idn = f.make_id_number(seq=51)
    f.person(tree.grid_a, name="导出甲", id_number=idn, phone="+8613811112222")
    f.person(tree.grid_b, name="导出乙", id_number=f.make_id_number(seq=52))
    exporter = f.account(perms=[Perm.PERSON_VIEW, Perm.DATA_EXPORT], scope=tree.community_a)
    job = start(django_capture_on_commit_callbacks, exporter, "export.persons", params={"format": "csv"})
    assert job.status == JobStatus.SUCCEEDED and (job.total, job.processed, job.percent) == (1, 1, 100)
    text = _read(job)
    assert "导出甲" in text and "导出乙" not in text
    assert idn not in text and idn[:4] + "**********" + idn[-4:] in text and "138****2222" in text
    with pytest.raises(Forbidden):
        start(django_capture_on_commit_callbacks, exporter, "export.persons", params={"reveal": True, "purpose": "核查"})


def test_H1_export_persons_unmasked_needs_reveal_purpose_and_is_audited(tree, django_capture_on_commit_callbacks):
    from linli.audit.models import AuditEntry
    from linli.core.errors import Invalid

    idn = f.make_id_number(seq=61)
    f.person(tree.grid_a, name="导出丙", id_number=idn, phone="+8613833334444")
    boss = f.account(perms=[Perm.PERSON_VIEW, Perm.DATA_EXPORT, Perm.PERSON_REVEAL], scope=tree.community_a)
    with pytest.raises(Invalid):
        start(django_capture_on_commit_callbacks, boss, "export.persons", params={"reveal": True, "purpose": ""})
    job = start(django_capture_on_commit_callbacks, boss, "export.persons", params={"reveal": True, "purpose": "人口普查核对", "format": "xlsx"})
    from openpyxl import load_workbook

    from linli.core import jobs

    path, name = jobs.job_file(actor=boss, job_id=job.pk, which="result")
    assert name.endswith(".xlsx")
    values = [c for row in load_workbook(path).worksheets[0].iter_rows(values_only=True) for c in row]
    assert idn in values and "+8613833334444" in values
    entry = AuditEntry.objects.get(action="person.export")
    assert entry.kind == "read" and entry.detail["revealed"] is True and entry.detail["purpose"] == "人口普查核对"


def test_P2_export_houses(world, django_capture_on_commit_callbacks):
    tree, est, house, actor = world
    f.house(tree.grid_b, number="777")
    exporter = f.account(perms=[Perm.PLACE_VIEW, Perm.DATA_EXPORT], scope=tree.community_a)
    job = start(django_capture_on_commit_callbacks, exporter, "export.houses", params={"format": "csv"})
    text = _read(job)
    assert text.startswith("房屋编号,小区编码") and "EA001" in text and "777" not in text.split("\n", 1)[1]
