"""Shared test set-up. Service-backed tests skip when a service is unreachable, and FAIL instead
when LINLI_REQUIRE_SERVICES=1 (as in CI)."""

from __future__ import annotations

import os
import shutil
import socket

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# No timing assertions in unit tests: hypothesis deadlines fail on a loaded 2-core CI machine.
hypothesis_settings.register_profile("linli", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("linli")

REQUIRE_SERVICES = os.environ.get("LINLI_REQUIRE_SERVICES") == "1"
_skipped: list[str] = []


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or fail under LINLI_REQUIRE_SERVICES=1) when ``name`` is not reachable."""
    if reachable(host, port):
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} at {host}:{port} is required (LINLI_REQUIRE_SERVICES=1) but not reachable")
    _skipped.append(name)
    pytest.skip(f"{name} not reachable at {host}:{port}")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session", autouse=True)
def _live_server_serialized_on_sqlite():
    """Django's threaded live server, but one request at a time on SQLite.

    On in-memory SQLite every live-server thread shares the test's single connection (Django's
    ``connections_override``). Two browser requests at once (a page and its htmx fragment) then
    interleave statements on that one connection, and a session read can come back empty: the
    request is anonymous and the console sends the browser to the login page (a flaky e2e failure
    seen in CI). PostgreSQL gives each thread its own connection, so it keeps the threaded server."""
    import threading

    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.db import connection
    from django.test import testcases

    if connection.vendor != "sqlite":
        yield
        return
    lock = threading.RLock()

    class Serialized(ThreadedWSGIServer):
        def set_app(self, application):
            def serialized(environ, start_response):
                with lock:
                    result = application(environ, start_response)
                    if getattr(result, "streaming", False):  # a live feed must not hold the lock
                        return result
                    body = list(result)  # the body is produced under the lock too
                    if hasattr(result, "close"):
                        result.close()
                    return body

            super().set_app(serialized)

    original = testcases.LiveServerThread.server_class
    testcases.LiveServerThread.server_class = Serialized
    yield
    testcases.LiveServerThread.server_class = original


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """PBKDF2 at Django's default cost takes seconds on a shared CI core; tests of hashing opt back in."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _audit_table_flushable(request):
    """Transactional tests end with a flush, which on SQLite is DELETE: the append-only trigger
    refuses it. Before the flush, empty the audit table with the trigger lifted and put the trigger
    back, so the flush deletes zero audit rows and the trigger stays in force for later tests."""
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    if not uses_db:
        yield
        return
    request.getfixturevalue("_django_db_helper")  # set up before us ⇒ torn down (flushed) after us
    yield
    from django.db import connection

    if connection.in_atomic_block:  # a plain db test: rolled back, nothing to do
        return
    from linli.audit import triggers

    with connection.cursor() as cur:
        triggers.lift(cur, connection.vendor)
        cur.execute("DELETE FROM audit_auditentry")
        triggers.restore(cur, connection.vendor)


@pytest.fixture(autouse=True)
def _fresh_in_process_indexes(settings):
    """In-process indexes (point→grid, access and parking decisions, device directory and rule book)
    key their freshness on version rows that roll back with each test: start every test without them."""
    settings.LINLI_SPATIAL_INDEX_TTL = 0
    settings.LINLI_ALARM_ROLES_TTL_S = 0
    settings.LINLI_GRID_WORKER_TTL_S = 0
    from linli.access import decision as access_decision
    from linli.iot import ingest
    from linli.orgs import holders
    from linli.parking import decision as parking_decision
    from linli.places import spatial

    spatial.invalidate()
    access_decision.invalidate()
    parking_decision.invalidate()
    ingest.reset_caches()
    holders.forget_all()


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default", "imports", "exports"]}}


@pytest.fixture
def tree(db):
    from tests.factories import Tree

    return Tree()


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_line(f"services unavailable (skipped): {', '.join(sorted(set(_skipped)))}")


class ApiClient:
    """Django test client speaking JSON to /api/v1/ with a Bearer token."""

    def __init__(self, acc) -> None:
        from django.test import Client

        from tests.factories import token_for

        self.account = acc
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token_for(acc)}"}

    def _call(self, method: str, path: str, data=None, **kw):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        fn = getattr(self.client, method)
        if method in ("get", "delete"):
            return fn(url, data or {}, headers=self.headers, **kw)
        return fn(url, data=data if data is not None else {}, content_type="application/json", headers=self.headers, **kw)

    def get(self, path, data=None, **kw):
        return self._call("get", path, data, **kw)

    def post(self, path, data=None, **kw):
        return self._call("post", path, data, **kw)

    def patch(self, path, data=None, **kw):
        return self._call("patch", path, data, **kw)

    def put(self, path, data=None, **kw):
        return self._call("put", path, data, **kw)

    def delete(self, path, data=None, **kw):
        return self._call("delete", path, data, **kw)


@pytest.fixture
def api_as():
    """api_as(account) -> ApiClient authenticated as that account."""
    return ApiClient


LIVE_REDIS_URL = "redis://127.0.0.1:6379/15"  # the live feed's tests use Redis db 15 only


@pytest.fixture
def live_sent(settings, monkeypatch):
    """The live feed switched on (linli.core.live) with its Redis PUBLISH replaced by a list of the
    (channel, event) pairs sent — sent after commit only, so run writes in
    ``django_capture_on_commit_callbacks(execute=True)``."""
    import json

    from linli.core import live

    settings.LINLI_LIVE_REDIS_URL = LIVE_REDIS_URL
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(live, "_send", lambda channel, payload: sent.append((channel, json.loads(payload))))
    return sent


def live_frames(frames, channel: str) -> list[dict]:
    """The events of ``channel`` read from server-sent-event frames until the stream ends by itself."""
    import json

    out = []
    for chunk in frames:
        if chunk.startswith(f"event: {channel}\n".encode()):
            out.append(json.loads(chunk.decode().split("data: ", 1)[1]))
    return out


def pytest_collection_modifyitems(items):
    """Transactional tests (live_server, transactional_db, transaction=True) end with a flush that also
    empties data the migrations seeded (roles, device types and rules, case categories and holidays,
    knowledge articles). Serialized rollback restores that data before each of them; pytest-django
    already runs them after the ordinary tests, which see the seeded database untouched."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        transactional = bool({"transactional_db", "live_server"} & set(item.fixturenames)) or bool(
            marker and marker.kwargs.get("transaction")
        )
        if transactional and "django_db_serialized_rollback" not in item.fixturenames:
            item.fixturenames.append("django_db_serialized_rollback")
