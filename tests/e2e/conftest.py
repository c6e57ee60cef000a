"""Playwright infrastructure for the browser tests (Debian's chromium, never `playwright install`).

- Chromium is found on PATH; without it the e2e tests skip, or FAIL under LINLI_REQUIRE_SERVICES=1.
- Playwright's sync API runs an event loop in the test thread, so Django's async-safety guard is
  switched off for these tests (DJANGO_ALLOW_ASYNC_UNSAFE); the app runs in pytest-django's
  live_server thread against a transactional database.
- ``staff_page``: a small places tree, a street-scoped staff account, logged in via /console/login/.
- ``assert_accessible(page)``: injects the vendored axe-core and fails on serious/critical issues.
- A failing test leaves a full-page screenshot in test-results/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES, chromium_path

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
STAFF_USERNAME = "e2e_staff"


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = chromium_path()
    if path is None:
        if REQUIRE_SERVICES:
            pytest.fail("chromium is required for the e2e tests (LINLI_REQUIRE_SERVICES=1): apt-get install chromium")
        pytest.skip("chromium not installed (apt-get install chromium fonts-noto-cjk)")
    args = [a for a in browser_type_launch_args.get("args", []) if a != "--disable-gpu"] + ["--disable-gpu"]
    return {**browser_type_launch_args, "executable_path": path, "args": args}


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.failed or "page" not in request.fixturenames:
        return
    page = request.getfixturevalue("page")
    RESULTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-150:]
    try:
        page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)
    except Exception as exc:  # a closed page must not hide the real failure
        print(f"screenshot failed: {exc}")


def assert_accessible(page, *, impacts: tuple[str, ...] = ("serious", "critical"), rules: dict | None = None) -> None:
    """Run axe-core (WCAG 2.1 A/AA) on the current page; fail listing serious/critical violations."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    if rules:
        options["rules"] = rules
    result = page.evaluate("async (opts) => await window.axe.run(document, opts)", options)
    bad = [v for v in result["violations"] if v.get("impact") in impacts]
    if bad:
        lines = [f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(n['target'][0] for n in v['nodes'][:5])}" for v in bad]
        pytest.fail(f"accessibility violations on {page.url}:\n" + "\n".join(lines))


@pytest.fixture
def e2e_tree(transactional_db, settings):
    """city › district › street › communities A/B › grids, plus one house and one person in grid A."""
    from tests import factories as f

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tree = f.Tree()
    house = f.house(tree.grid_a, number="101")
    person = f.person(tree.grid_a, name="王秀英", id_number=f.make_id_number(seq=321), phone="+8613911112222")
    f.residency(person, house)
    tree.house, tree.person = house, person
    return tree


@pytest.fixture
def staff_account(e2e_tree):
    from linli.orgs.perms import Perm
    from tests import factories as f

    perms = [Perm.PLACE_VIEW, Perm.PERSON_VIEW, Perm.SPECIAL_GROUP_VIEW, Perm.ORG_VIEW]
    return f.account(STAFF_USERNAME, perms=perms, scope=e2e_tree.street)


def console_login(page, base_url: str, username: str, password: str | None = None) -> None:
    """Log in through the console's own login form (fields ``username``/``password``)."""
    from tests import factories as f

    page.goto(f"{base_url}/console/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password or f.PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(rf"^{re.escape(base_url)}/console/(?!login)"))


@pytest.fixture
def staff_page(page, live_server, staff_account):
    """A browser page logged in to the console as a street-scoped staff member."""
    console_login(page, live_server.url, staff_account.username)
    return page
