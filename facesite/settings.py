"""FaceSite settings: the only settings module, driven by environment variables.

Every variable is documented in `.env.example`. Defaults run on a laptop: SQLite in the
project folder, Redis on localhost, DEBUG on.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(
        f"{name} must be a boolean (1/0, true/false), not {value!r}"
    )


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be an integer, not {value!r}"
        ) from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def env_float(name: str, default: float, low: float, high: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if not low <= number <= high:
        raise ImproperlyConfigured(
            f"{name} must be between {low} and {high}, not {number}"
        )
    return number


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(choices)}, not {value!r}"
        )
    return value


# --- Core ---------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-dev-key-only-for-debug"  # noqa: S105 - never used with DEBUG off

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_results",
    "django_celery_beat",
    "recognition",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "facesite.urls"
WSGI_APPLICATION = "facesite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several worker processes write at once: WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock at BEGIN (so a transaction never has to upgrade a
    # read lock, which is what raises "database is locked" despite the timeout), and the
    # busy timeout makes writers queue for the lock instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30, minimum=1),
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA busy_timeout=30000;"
        ),
    }
    # Integration tests run a real worker process against the test database, so it
    # must be a file both processes can open, not SQLite's default in-memory one.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str(
            "SQLITE_TEST_NAME", str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")
        )
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker and cache --------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "facesite",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# --- Auth, i18n, static and media ---------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Overwrite: a redelivered job rewrites its one result image, never adds one.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"allow_overwrite": True},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750

# --- Recognition --------------------------------------------------------------

# A face further than this from every enrolled face is "Unknown".
FACESITE_TOLERANCE = env_float("FACESITE_TOLERANCE", 0.6, 0.0, 1.0)
# A face whose two nearest people are closer than this to each other is "ambiguous".
FACESITE_AMBIGUITY_MARGIN = env_float("FACESITE_AMBIGUITY_MARGIN", 0.05, 0.0, 1.0)
# hog (dlib, default), cnn (dlib, slow on CPU) or haar (OpenCV cascade, fast, rough).
FACESITE_DETECTOR = env_choice("FACESITE_DETECTOR", "hog", ("hog", "cnn", "haar"))
# Detection runs on a copy reduced to this longest side; encoding uses the original.
FACESITE_DETECT_MAX_SIDE = env_int("FACESITE_DETECT_MAX_SIDE", 1280, minimum=64)
# HOG/CNN upsampling finds faces half as large at about four times the cost; it is
# applied only while the detection copy is at most this many pixels.
FACESITE_UPSAMPLE_MAX_PIXELS = env_int(
    "FACESITE_UPSAMPLE_MAX_PIXELS", 1_000_000, minimum=0
)
FACESITE_MAX_IMAGE_PIXELS = env_int("FACESITE_MAX_IMAGE_PIXELS", 40_000_000, minimum=1)
FACESITE_MAX_UPLOAD_BYTES = env_int(
    "FACESITE_MAX_UPLOAD_BYTES", 10 * 1024 * 1024, minimum=1
)
FACESITE_MAX_FILES_PER_UPLOAD = env_int("FACESITE_MAX_FILES_PER_UPLOAD", 50, minimum=1)
DATA_UPLOAD_MAX_NUMBER_FILES = FACESITE_MAX_FILES_PER_UPLOAD
# Retention: finished jobs (rows, uploads, result images) and temporary files.
FACESITE_RETENTION_DAYS = env_int("FACESITE_RETENTION_DAYS", 30, minimum=1)
FACESITE_TEMP_RETENTION_HOURS = env_int("FACESITE_TEMP_RETENTION_HOURS", 24, minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Celery -------------------------------------------------------------------
# JSON only: a pickle payload in Redis would run code in the workers (see README).
CELERY_BROKER_URL = REDIS_URL
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TRACK_STARTED = True
# One message in hand per process: a long job never holds others back in a prefetch.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# An unacknowledged message goes back to the queue after this many seconds; it must be
# longer than the hard time limit or a slow job would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
    # Message priorities inside a queue (0 first), and queues served in the order a
    # worker lists them (-Q high,default,bulk), so interactive uploads go first.
    "priority_steps": list(range(10)),
    "sep": ":",
    "queue_order_strategy": "priority",
}
# high: single interactive uploads; default: multi-file uploads and the API;
# bulk: folders, benchmarks and re-processing. Workers consume all three unless -Q.
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name) for name in ("high", "default", "bulk")
]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_DEFAULT_PRIORITY = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Give up publishing quickly when Redis is down: the job row stays PENDING and the
# upload page says so, instead of hanging the request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int(
    "CELERY_WORKER_MAX_TASKS_PER_CHILD", 500, minimum=1
)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int(
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD", 1_000_000, minimum=1
)  # KiB
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Synced into django-celery-beat's tables at beat start-up, then editable in the admin.
# Each entry expires before its next run, so a backlog never runs it twice.
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-jobs": {
        "task": "recognition.tasks.requeue_stale_jobs",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    "purge-expired-jobs": {
        "task": "recognition.tasks.purge_expired",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "purge-temp-files": {
        "task": "recognition.tasks.purge_temp_files",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "expire-celery-results": {
        "task": "celery.backend_cleanup",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "maintain-database": {
        "task": "monitoring.tasks.maintain_database",
        "schedule": 86400.0,
        "options": {"expires": 80000},
    },
    "worker-health-snapshot": {
        "task": "monitoring.tasks.snapshot_workers",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
}

# --- Logging ------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
