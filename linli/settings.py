"""Linli settings. Everything configurable comes from the environment (12-factor); see README."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LINLI_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("LINLI_DEBUG", True)
SECRET_KEY = os.environ.get("LINLI_SECRET_KEY", "linli-dev-only-secret-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = [h for h in os.environ.get("LINLI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("LINLI_CSRF_TRUSTED_ORIGINS", "").split(",") if o]


def database_from_url(url: str) -> dict:
    """sqlite:///path or postgres://user:pass@host:port/db → Django DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path) or str(VAR_DIR / "linli.sqlite3")
        if path.startswith("//"):
            path = path[1:]
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
            "TEST": {"NAME": os.environ.get("LINLI_TEST_SQLITE_NAME") or None},
        }
    if parsed.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "linli",
            "USER": unquote(parsed.username or "") or os.environ.get("USER", "postgres"),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "127.0.0.1",
            "PORT": str(parsed.port or 5432),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "TEST": {"NAME": os.environ.get("LINLI_TEST_PG_NAME", "test_linli")},
        }
    raise ValueError(f"Unsupported DATABASE_URL scheme: {parsed.scheme!r}")


DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'linli.sqlite3'}")
DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "unfold",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "treebeard",
    "django_tasks_db",
    "linli.core",
    "linli.places",
    "linli.orgs",
    "linli.people",
    "linli.audit",
    "linli.cases",
    "linli.iot",
    "linli.access",
    "linli.parking",
    "linli.knowledge",
    "linli.patrols",
    "linli.hotline",  # hotline: agent screen and call records (L1)
    "linli.console",
    "linli.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "linli.core.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "linli.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "linli.urls"
WSGI_APPLICATION = "linli.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "linli.core.context_processors.linli",
            ],
        },
    }
]

AUTH_USER_MODEL = "orgs.Account"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/console/login/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("LINLI_MEDIA_ROOT", VAR_DIR / "media"))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Background tasks: django.tasks with the database backend (embedded default). Production may use
# a Redis/RQ backend by setting LINLI_TASK_BACKEND to its dotted path.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("LINLI_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", "imports", "exports"],
    }
}

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["LINLI_REDIS_URL"]}
        if os.environ.get("LINLI_REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Personal data (PIPL): AES-256-GCM keys "kid:base64key" separated by commas; the first is used to
# encrypt, all are tried to decrypt (rotation). A separate key for the HMAC blind index.
LINLI_PII_KEYS = os.environ.get("LINLI_PII_KEYS", "")
LINLI_BLIND_INDEX_KEY = os.environ.get("LINLI_BLIND_INDEX_KEY", "")
# Without keys a development key is derived; allowed only in DEBUG or when explicitly asked for.
LINLI_PII_DEV_KEYS_ALLOWED = DEBUG or env_bool("LINLI_ALLOW_DEV_KEYS")

# Login throttling: failures per username+IP in the window before a temporary lock.
LINLI_LOGIN_MAX_FAILURES = int(os.environ.get("LINLI_LOGIN_MAX_FAILURES", "5"))
LINLI_LOGIN_WINDOW_SECONDS = int(os.environ.get("LINLI_LOGIN_WINDOW_SECONDS", "900"))

# Spatial index freshness: how often (seconds) a process checks whether boundaries changed.
LINLI_SPATIAL_INDEX_TTL = float(os.environ.get("LINLI_SPATIAL_INDEX_TTL", "2"))

LINLI_MQTT_URL = os.environ.get("LINLI_MQTT_URL", "")

# Cases (C1–C3, C5): working day for time limits, reopen window, "same problem" detection.
LINLI_CASE_WORKDAY = os.environ.get("LINLI_CASE_WORKDAY", "08:30-12:00,13:30-17:30")
LINLI_CASE_REOPEN_DAYS = int(os.environ.get("LINLI_CASE_REOPEN_DAYS", "7"))
LINLI_CASE_DUPLICATE_RADIUS_M = float(os.environ.get("LINLI_CASE_DUPLICATE_RADIUS_M", "100"))
LINLI_CASE_DUPLICATE_HOURS = float(os.environ.get("LINLI_CASE_DUPLICATE_HOURS", "72"))
# Who holds a role changes rarely; intake and alarms keep the answer this long in each process
# (a change made in the same process applies at once).
LINLI_GRID_WORKER_TTL_S = float(os.environ.get("LINLI_GRID_WORKER_TTL_S", "10"))
LINLI_ALARM_ROLES_TTL_S = float(os.environ.get("LINLI_ALARM_ROLES_TTL_S", "5"))
LINLI_OPEN311_JURISDICTION = os.environ.get("LINLI_OPEN311_JURISDICTION", "linli")
if os.environ.get("LINLI_NOTIFIERS"):
    LINLI_NOTIFIERS = tuple(n.strip() for n in os.environ["LINLI_NOTIFIERS"].split(",") if n.strip())
LINLI_PUBLIC_URL = os.environ.get("LINLI_PUBLIC_URL", "http://127.0.0.1:8000")

# Access control (A4/H6): visitor records are anonymised this many days after the visit ends; visits that
# hit the watch list are kept longer (evidence for the police/community that flagged the person or plate).
LINLI_ACCESS_VISITOR_RETENTION_DAYS = int(os.environ.get("LINLI_ACCESS_VISITOR_RETENTION_DAYS", "180"))
LINLI_ACCESS_WATCH_HIT_RETENTION_DAYS = int(os.environ.get("LINLI_ACCESS_WATCH_HIT_RETENTION_DAYS", "730"))

NINJA_PAGINATION_MAX_LIMIT = 200

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LINLI_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

UNFOLD = {
    "SITE_TITLE": "邻里 Linli",
    "SITE_HEADER": "邻里 · 智慧社区平台",
    "SHOW_LANGUAGES": True,
}

# IoT alarms (D4): minutes an alarm may stay unacknowledged before it escalates one tier
# (grid/community → street → district); 0 or empty = that severity never escalates. Live feed over
# Redis pub/sub (LINLI_REDIS_URL) with at most LINLI_LIVE_MAX_STREAMS open streams per process.
LINLI_ALARM_ESCALATE_MIN = {
    sev: int(val) for sev, val in (
        item.split("=", 1) for item in os.environ.get(
            "LINLI_ALARM_ESCALATE_MIN", "critical=5,major=15,minor=60,warning=0").split(",") if "=" in item
    )
}
LINLI_LIVE_REDIS_URL = os.environ.get("LINLI_LIVE_REDIS_URL", os.environ.get("LINLI_REDIS_URL", ""))
LINLI_LIVE_MAX_STREAMS = int(os.environ.get("LINLI_LIVE_MAX_STREAMS", "4"))
LINLI_LIVE_STREAM_SECONDS = float(os.environ.get("LINLI_LIVE_STREAM_SECONDS", "25"))
# IoT history (D6): rollups re-aggregate this many seconds before their watermark on every run, so
# readings that arrive up to this late are folded into their buckets (older backfills: iot_rollups --rebuild-from).
LINLI_IOT_ROLLUP_LATE_S = int(os.environ.get("LINLI_IOT_ROLLUP_LATE_S", "7200"))
# ---- Grid patrols (C6) ----------------------------------------------------------------------------
# A task may be started this many minutes before its window opens; a planned or unfinished task is
# marked missed this many minutes after its window closed (the sweep runs every few minutes).
LINLI_PATROL_EARLY_START_MIN = int(os.environ.get("LINLI_PATROL_EARLY_START_MIN", "60"))
LINLI_PATROL_MISSED_GRACE_MIN = int(os.environ.get("LINLI_PATROL_MISSED_GRACE_MIN", "30"))
