"""Import journey in a real browser: upload a CSV on /console/data/, watch the job reach 100 %,
see the one bad row in the error report (O3 H1 U1)."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from linli.orgs.perms import Perm
from tests import factories as f
from tests.jobs_helpers import _media_in_tmp  # noqa: F401

pytestmark = pytest.mark.e2e


def axe(page) -> None:
    try:
        from tests.e2e.conftest import assert_accessible
    except ImportError:
        return
    assert_accessible(page)


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def seeded(transactional_db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tree = f.Tree()
    f.account("e2e_importer", perms=[Perm.DATA_IMPORT, Perm.PERSON_VIEW, Perm.PERSON_EDIT, Perm.HOUSEHOLD_EDIT],
              scope=tree.community_a)
    return tree


def test_H1_O3_console_csv_import_progress_and_row_error(page, live_server, seeded):
    base = live_server.url
    page.goto(base + "/console/login/")
    page.get_by_label("用户名").fill("e2e_importer")
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="导入导出").click()
    expect(page.get_by_role("heading", name="批量导入")).to_be_visible()
    axe(page)

    buf = io.StringIO()
    rows = [["姓名", "证件号码", "手机号", "所属网格编码"]]
    rows += [[f"导入{i}", f.make_id_number(seq=900 + i), "13800000000", seeded.grid_a.code] for i in range(4)]
    rows.append(["坏行", "370102198001010000", "", seeded.grid_a.code])
    csv.writer(buf).writerows(rows)
    page.get_by_label("导入内容").select_option("import.persons")
    page.get_by_label("文件").set_input_files({"name": "persons.csv", "mimeType": "text/csv", "buffer": buf.getvalue().encode()})
    page.get_by_role("button", name="上传并开始导入").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("人员导入")
    expect(page.locator("#job-percent")).to_have_text("100%", timeout=15000)
    expect(page.locator("#job-progress")).to_have_attribute("value", "100")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "succeeded")
    errors = page.locator("#job-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first).to_contain_text("6")
    expect(errors.first).to_contain_text("证件号码")
    expect(page.locator("#job-progress-text")).to_contain_text("成功 4")
    expect(page.locator("#download-errors")).to_be_visible()
    axe(page)
