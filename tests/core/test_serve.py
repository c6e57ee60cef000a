"""manage.py serve: granian (WSGI + static files) and the worker as children; signals forwarded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from linli.core.management.commands.serve import mqtt_commands, scheduler_command, web_command, worker_command

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_commands_use_wsgi_static_files_and_all_queues(settings):
    web = web_command("127.0.0.1", 8123, 2)
    assert web[1:3] == ["-m", "granian"] and "linli.wsgi:application" in web
    assert web[web.index("--interface") + 1] == "wsgi" and web[web.index("--workers") + 1] == "2"
    assert web[web.index("--static-path-route") + 1] == "/static"
    assert web[web.index("--static-path-mount") + 1] == str(settings.STATIC_ROOT)
    worker = worker_command()
    assert "db_worker" in worker and worker[worker.index("--queue-name") + 1] == "*"
    assert scheduler_command()[-1] == "scheduler"  # the third child: periodic tasks (linli/<app>/schedules.py)


def test_D2_A3_serve_starts_mqtt_children_only_when_configured(settings):
    settings.LINLI_MQTT_URL = ""
    assert mqtt_commands() == {}
    settings.LINLI_MQTT_URL = "mqtt://linli-ingest:secret@127.0.0.1:1883"
    cmds = mqtt_commands()
    assert set(cmds) == {"ingest", "access-rpc"}
    assert cmds["ingest"][2:] == ["iot_ingest", "--url", settings.LINLI_MQTT_URL]
    assert cmds["access-rpc"][2:] == ["access_rpc", "--url", settings.LINLI_MQTT_URL]


def test_serve_refuses_a_busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(CommandError, match="already in use"):
            call_command("serve", host="127.0.0.1", port=s.getsockname()[1], no_worker=True)


@pytest.mark.slow
def test_serve_runs_granian_serves_api_and_static_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "LINLI_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
           "PYTHONUNBUFFERED": "1"}
    static = tmp_path / "staticfiles"
    static.mkdir()
    (static / "probe.txt").write_text("linli-static-ok")
    proc = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port), "--no-worker"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            if "Ctrl+C" in line:
                break
        out = "".join(lines)
        assert f"http://127.0.0.1:{port}/console/" in out and "/api/v1/docs" in out, out
        assert "scheduler pid" in out and "worker not started" in out, out
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/probe.txt", timeout=30) as r:
            assert r.read() == b"linli-static-ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=60) as r:
            assert r.status == 200 and b'"openapi"' in r.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert "stopped" in proc.stdout.read()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
