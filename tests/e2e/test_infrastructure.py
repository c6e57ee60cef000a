"""The e2e harness itself: chromium launches, console login works, axe-core runs."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_accessible

pytestmark = pytest.mark.e2e


def test_O1_staff_page_fixture_logs_in_and_login_page_is_accessible(staff_page, live_server):
    assert staff_page.url.startswith(live_server.url + "/console/")
    assert "login" not in staff_page.url
    staff_page.goto(live_server.url + "/console/login/")
    assert_accessible(staff_page)


def test_assert_accessible_fails_on_a_serious_violation(page):
    page.set_content("<html lang='zh'><body><img src='x.png'><button></button></body></html>")
    with pytest.raises(pytest.fail.Exception):
        assert_accessible(page)
