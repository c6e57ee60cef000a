"""manage.py serve [--host H] [--port P] — the web server (granian, WSGI), the background worker
(django-tasks-db ``db_worker``, all queues) and the scheduler of periodic tasks (``manage.py
scheduler``) as child processes, with signals forwarded; with ``LINLI_MQTT_URL`` set also the MQTT
ingest worker and the gate RPC responder (restarted after a pause if they exit, e.g. broker down).

Granian serves STATIC_ROOT at /static itself (run ``collectstatic`` first; ``make run`` does).
Ctrl+C or SIGTERM stops all children gracefully; if one child dies, the other is stopped too and
``serve`` exits with the child's code. Granian's own GRANIAN_* environment variables still apply
(e.g. GRANIAN_WORKERS=4 in production).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

STOP_TIMEOUT = 15.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Children get SIGTERM if ``serve`` itself is killed (Linux PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def web_command(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", os.environ.get("GRANIAN_BLOCKING_THREADS", "8"),
        "--backpressure", os.environ.get("GRANIAN_BACKPRESSURE", "64"), "--static-path-route", "/static", "--static-path-mount", str(settings.STATIC_ROOT),
        "--no-ws", "linli.wsgi:application",
    ]


def worker_command() -> list[str]:
    manage = Path(settings.BASE_DIR) / "manage.py"
    return [sys.executable, str(manage), "db_worker", "--queue-name", "*", "--no-reload", "--interval", "1"]


def scheduler_command() -> list[str]:
    manage = Path(settings.BASE_DIR) / "manage.py"
    return [sys.executable, str(manage), "scheduler"]


def mqtt_commands() -> dict[str, list[str]]:
    """With ``LINLI_MQTT_URL`` set: the MQTT ingest worker (D2) and the gate decision responder (A3).
    They are optional children: if the broker is unreachable they exit and are restarted after a pause,
    while the web server keeps serving (HTTP ingest and HTTP decisions still work)."""
    url = getattr(settings, "LINLI_MQTT_URL", "")
    if not url:
        return {}
    manage = str(Path(settings.BASE_DIR) / "manage.py")
    return {
        "ingest": [sys.executable, manage, "iot_ingest", "--url", url],
        # The gate responder logs in as its own broker account (deploy/mosquitto/linli.acl: linli-access).
        "access-rpc": [sys.executable, manage, "access_rpc", "--url", os.environ.get("LINLI_ACCESS_MQTT_URL") or url],
    }


OPTIONAL_RESTART_S = 10.0


def port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Command(BaseCommand):
    help = "Serve Linli: granian (WSGI) on HOST:PORT with static files, plus the background task worker and the scheduler."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("LINLI_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("LINLI_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("LINLI_WEB_WORKERS", "1")), help="web worker processes")
        parser.add_argument("--no-worker", action="store_true", help="do not start the background task worker")
        parser.add_argument("--no-scheduler", action="store_true", help="do not start the scheduler of periodic tasks")

    def handle(self, *args, host: str, port: int, workers: int, no_worker: bool, no_scheduler: bool = False, **kw):
        if not port_free(host, port):
            raise CommandError(f"{host}:{port} is already in use (another server running?). Use --port. 端口已被占用。")
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        if not any(Path(settings.STATIC_ROOT).iterdir()):
            self.stderr.write("STATIC_ROOT is empty: run `manage.py collectstatic` (make run does) for CSS/JS.")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "linli.settings"),
               "PYTHONUNBUFFERED": "1"}
        for conn in connections.all():  # never hold a database connection (or a SQLite lock) while idle
            conn.close()
        procs: dict[str, subprocess.Popen] = {}

        def start(name: str, cmd: list[str]) -> None:
            procs[name] = subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR, process_group=0, preexec_fn=_die_with_parent)

        stopping = False

        def stop(signum=None, _frame=None) -> None:
            nonlocal stopping
            if stopping:
                return
            stopping = True
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGHUP, stop)

        start("web", web_command(host, port, workers))
        if not no_worker:
            start("worker", worker_command())
        if not no_scheduler:
            start("scheduler", scheduler_command())
        optional = mqtt_commands()
        restart_at: dict[str, float] = {}
        for name, cmd in optional.items():
            start(name, cmd)
        if wait_for_port(host, port, 120, procs["web"]) and not stopping:
            self.stdout.write(self.banner(host, port, procs))
            self.stdout.flush()
        code = 0
        while procs:
            for name, p in list(procs.items()):
                rc = p.poll()
                if rc is None:
                    continue
                del procs[name]
                if not stopping and name in optional:
                    self.stderr.write(f"{name} exited with code {rc}; restarting in {OPTIONAL_RESTART_S:g} s.")
                    restart_at[name] = time.monotonic() + OPTIONAL_RESTART_S
                elif not stopping:
                    self.stderr.write(f"{name} exited with code {rc}; stopping the rest.")
                    code = rc or 1
                    stop()
            for name, when in list(restart_at.items()):
                if not stopping and time.monotonic() >= when:
                    del restart_at[name]
                    start(name, optional[name])
            if stopping:
                restart_at.clear()
                deadline = time.monotonic() + STOP_TIMEOUT
                while procs and time.monotonic() < deadline:
                    for name, p in list(procs.items()):
                        if p.poll() is not None:
                            del procs[name]
                    time.sleep(0.1)
                for p in procs.values():  # the whole process group: granian's workers too
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                procs.clear()
            time.sleep(0.2)
        self.stdout.write("Linli stopped. 已停止。")
        if code:
            sys.exit(code)

    def banner(self, host: str, port: int, procs: dict[str, subprocess.Popen]) -> str:
        from linli.core.demo import format_logins

        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        base = f"http://{shown}:{port}"
        try:
            logins = format_logins(base)
        except DatabaseError:
            logins = "Database not migrated yet: run `manage.py migrate` and `manage.py demo`."
        finally:
            for conn in connections.all():
                conn.close()
        worker = f"pid {procs['worker'].pid} (queues: all)" if "worker" in procs else "not started (--no-worker)"
        scheduler = f"pid {procs['scheduler'].pid}" if "scheduler" in procs else "not started (--no-scheduler)"
        mqtt = (f"MQTT ingest pid {procs['ingest'].pid}, gate RPC pid {procs['access-rpc'].pid}" if "ingest" in procs and "access-rpc" in procs
                else "MQTT not started (set LINLI_MQTT_URL)")
        return "\n".join([
            "",
            f"Linli 邻里 is running (web pid {procs['web'].pid}, worker {worker}, scheduler {scheduler}; {mqtt})",
            f"  Console 工作台   {base}/console/",
            f"  Portal  居民端   {base}/portal/",
            f"  API docs 接口    {base}/api/v1/docs",
            f"  Admin   系统管理 {base}/admin/",
            "",
            logins,
            "",
            "Press Ctrl+C to stop. 按 Ctrl+C 停止。",
            "",
        ])
