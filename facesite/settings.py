"""FaceSite settings: the only settings module, driven by environment variables.

Every variable is documented in `.env.example`. Defaults run on a laptop: SQLite in the
project folder, Redis on localhost, DEBUG on.
"""

from __future__ import annotations

import json
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
    # busy timeout makes writers queue for the lock instead of failing. Connections
    # are kept (CONN_MAX_AGE) like PostgreSQL's: reopening one per job, with its
    # PRAGMAs, cost each job about a millisecond.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30, minimum=1),
        "transaction_mode": "IMMEDIATE",
        # The busy timeout is the "timeout" option above (a PRAGMA would override it).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
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
# The site's own sign-in page (registration/login.html); the admin keeps its own.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "recognition:upload"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]


def env_json(name: str, default: dict) -> dict:
    value = env_str(name)
    if not value:
        return default
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object")
    return parsed


# Uploads, results and enrolment photos go through this storage only, so workers on
# other machines can share it: a shared disk (the default, at MEDIA_ROOT), or object
# storage, e.g. FACESITE_STORAGE_BACKEND=storages.backends.s3.S3Storage with
# FACESITE_STORAGE_OPTIONS='{"bucket_name": "faces", "file_overwrite": true}'
# (pip install django-storages[s3]). It must overwrite: a redelivered job rewrites
# its one result image, never adds one.
STORAGES = {
    "default": {
        "BACKEND": env_str(
            "FACESITE_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env_json("FACESITE_STORAGE_OPTIONS", {"allow_overwrite": True}),
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
# How photo distances make a person's distance: mean2 (mean of the two nearest
# photos), nearest, or centroid. mean2 named the most probes at a 1 % false-accept
# rate on the shared test photos (`manage.py evaluate`, see README).
FACESITE_MATCH_RULE = env_choice(
    "FACESITE_MATCH_RULE", "mean2", ("mean2", "nearest", "centroid")
)
# Faces narrower than this (pixels of the original) are found but never named: their
# encodings are too coarse (on the shared photos every stranger named in a crowd
# photo was 36-43 px wide; enrolled people there were 75 px and up).
FACESITE_MIN_IDENTIFY_SIZE = env_int("FACESITE_MIN_IDENTIFY_SIZE", 48, minimum=0)
# Calibration (`manage.py calibrate`, and the beat task when FACESITE_AUTO_CALIBRATE):
# the tolerance for FACESITE_TARGET_FAR estimated from the gallery, kept within the
# operator's bounds, used once enough stranger searches back it.
FACESITE_AUTO_CALIBRATE = env_bool("FACESITE_AUTO_CALIBRATE", True)
FACESITE_TARGET_FAR = env_float("FACESITE_TARGET_FAR", 0.01, 0.0, 1.0)
FACESITE_TOLERANCE_MIN = env_float("FACESITE_TOLERANCE_MIN", 0.45, 0.0, 1.0)
FACESITE_TOLERANCE_MAX = env_float("FACESITE_TOLERANCE_MAX", 0.6, 0.0, 1.0)
FACESITE_CALIBRATION_MIN_SEARCHES = env_int("FACESITE_CALIBRATION_MIN_SEARCHES", 50, 1)
FACESITE_CALIBRATION_MIN_PHOTOS = env_int("FACESITE_CALIBRATION_MIN_PHOTOS", 3, 2)
# Enrolment quality gate: the face's minimum width in pixels, and minimum sharpness
# (variance of the Laplacian at 64 px; the softest face among the shared known and
# probe photos scores 83, the astronaut blurred with a 2 px Gaussian 52).
FACESITE_ENROL_MIN_FACE = env_int("FACESITE_ENROL_MIN_FACE", 60, minimum=0)
FACESITE_ENROL_MIN_SHARPNESS = env_float("FACESITE_ENROL_MIN_SHARPNESS", 60.0, 0.0, 1e6)
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
# Celery's Django fixup closes the database connections before and after every task
# unless this is set; then it closes them every this many tasks. facesite/celery.py
# applies CONN_MAX_AGE around each task instead, as Django does around a request.
CELERY_DB_REUSE_MAX = 100_000
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
# A new pool process loads the face models again (about a second): at ~30 ms a job,
# replacing it every 500 jobs cost ~2 ms a job. Memory stays flat over thousands of
# jobs (benchmarks/worker_memory.py) and the memory cap below still applies.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int(
    "CELERY_WORKER_MAX_TASKS_PER_CHILD", 10_000, minimum=1
)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int(
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD", 1_000_000, minimum=1
)  # KiB
# Task events feed Flower and `celery events`; nothing in FaceSite reads them (the Job
# rows and /metrics do), and sending two per job costs every job some time on the
# worker. CELERY_TASK_EVENTS=1 (or `celery worker -E`) turns them on for such a tool.
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_TASK_EVENTS", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


def beat_entry(task: str, seconds: int) -> dict:
    # Each entry expires before its next run, so a backlog never runs it twice.
    return {
        "task": task,
        "schedule": float(seconds),
        # django-celery-beat reads expire_seconds (it drops a plain "expires").
        "options": {"expire_seconds": int(seconds * 0.9)},
    }


# Synced into django-celery-beat's tables at beat start-up, then editable in the admin.
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-jobs": beat_entry("recognition.tasks.requeue_stale_jobs", 60),
    "purge-expired-jobs": beat_entry("recognition.tasks.purge_expired", 3600),
    "purge-temp-files": beat_entry("recognition.tasks.purge_temp_files", 3600),
    # Named as django-celery-beat names its own entry, so this one replaces it.
    "celery.backend_cleanup": beat_entry("celery.backend_cleanup", 3600),
    "maintain-database": beat_entry("monitoring.tasks.maintain_database", 86400),
    "recalibrate-tolerance": beat_entry("recognition.tasks.recalibrate", 1800),
    "worker-health-snapshot": beat_entry("monitoring.tasks.snapshot_workers", 300),
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

# --- REST API -----------------------------------------------------------------

INSTALLED_APPS += ["rest_framework", "drf_spectacular", "drf_spectacular_sidecar"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so a request without credentials gets 401 with `WWW-Authenticate`.
        "recognition.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["recognition.api.permissions.CanRecognize"],
    "DEFAULT_THROTTLE_CLASSES": ["recognition.api.throttling.ApiKeyThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "recognition.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "multipart",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "FaceSite API",
    "DESCRIPTION": (
        "Recognise, detect and verify faces; manage the enrolled people. "
        "Authenticate with `Authorization: Api-Key <key>`. Every error is "
        '`{"error": {"code", "message", "field"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the drf-spectacular-sidecar static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PATH_CONVERTER_OVERRIDES": {
        "api_id": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
    },
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "recognition.models.Job.Status",
        "PriorityEnum": "recognition.models.Job.Priority",
    },
}


def env_rate(name: str, default: str) -> str:
    """A throttle rate such as 600/minute (second, minute, hour or day)."""
    value = env_str(name, default).strip()
    number, _, period = value.partition("/")
    if not (number.isdigit() and period[:1] in {"s", "m", "h", "d"}):
        raise ImproperlyConfigured(f"{name} must look like 600/minute, not {value!r}")
    return value


# Requests per API key (or staff user): `upload` for the endpoints that take photos,
# `api` for everything else. Counted in the default cache (Redis).
FACESITE_API_THROTTLE_RATES = {
    "api": env_rate("FACESITE_API_RATE", "3000/minute"),
    "upload": env_rate("FACESITE_API_UPLOAD_RATE", "600/minute"),
}
# `wait` holds a web worker while it polls: at most this many seconds (0 to 30).
FACESITE_API_MAX_WAIT = min(30, env_int("FACESITE_API_MAX_WAIT", 30, minimum=0))
# Webhook bodies are signed with this (X-FaceSite-Signature: sha256=<hex HMAC>).
# Without it (and DEBUG off) the API refuses callback_url.
FACESITE_WEBHOOK_SECRET = env_str("FACESITE_WEBHOOK_SECRET") or (
    "insecure-dev-webhook-secret" if DEBUG else ""
)
FACESITE_WEBHOOK_TIMEOUT = env_int("FACESITE_WEBHOOK_TIMEOUT", 10, minimum=1)
FACESITE_WEBHOOK_MAX_ATTEMPTS = env_int("FACESITE_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
# The site's public address (https://faces.example.org), for absolute links in
# webhook bodies; without it they are paths.
FACESITE_PUBLIC_URL = env_str("FACESITE_PUBLIC_URL").rstrip("/")

# --- Security -------------------------------------------------------------------
# With DEBUG off every default below is the secure one, so that `manage.py check
# --deploy --fail-level WARNING` passes with only DEBUG=0, SECRET_KEY and
# ALLOWED_HOSTS set; each can be overridden by the variable of the same name.

# HTTPS is terminated by a proxy that sets X-Forwarded-Proto (and overwrites any
# value a client sent): trust it to tell HTTPS from HTTP.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https")
    if env_bool("SECURE_PROXY_SSL_HEADER", not DEBUG)
    else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes and Prometheus inside the network speak plain HTTP: never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# HSTS: once a browser has seen it, it refuses plain HTTP for a year. Turn
# SECURE_HSTS_INCLUDE_SUBDOMAINS off if other sites under the domain lack HTTPS.
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
X_FRAME_OPTIONS = "DENY"

# Pages and results need a login (the API an API key) unless this is on: then the
# upload page and the results of each browser's own uploads are open to anonymous
# visitors (a kiosk). The dashboard and the admin stay staff-only.
FACESITE_PUBLIC_UPLOADS = env_bool("FACESITE_PUBLIC_UPLOADS", False)
# Web uploads (requests) per user, or per address for anonymous kiosk visitors,
# counted in the shared cache (Redis). The API has its own rates (above).
FACESITE_UPLOAD_RATE = env_rate("FACESITE_UPLOAD_RATE", "30/minute")
# Uploads: besides bytes (FACESITE_MAX_UPLOAD_BYTES) and pixels
# (FACESITE_MAX_IMAGE_PIXELS), no side may be longer than this.
FACESITE_MAX_IMAGE_SIDE = env_int("FACESITE_MAX_IMAGE_SIDE", 16_384, minimum=1)

# Biometric data. Turn FACESITE_REQUIRE_CONSENT on where the law requires consent
# (e.g. GDPR art. 9): enrolment is then refused until the person's consent (who gave
# it, when, for what purpose) is recorded.
FACESITE_REQUIRE_CONSENT = env_bool("FACESITE_REQUIRE_CONSENT", False)
# Off: enrolment photos are not kept, only their face encodings (the admin shows a
# placeholder); photos kept from before are deleted by the retention task.
FACESITE_KEEP_ENROLMENT_PHOTOS = env_bool("FACESITE_KEEP_ENROLMENT_PHOTOS", True)

# --- Monitoring: health probes and /metrics -------------------------------------
# A bearer token for /metrics (Prometheus' `authorization` setting); staff users who
# are logged in may read it without one. Empty: staff only.
FACESITE_METRICS_TOKEN = env_str("FACESITE_METRICS_TOKEN")
# /health/ready/ fails when the media storage's disk has less free space than this.
FACESITE_HEALTH_MIN_FREE_MB = env_int("FACESITE_HEALTH_MIN_FREE_MB", 500, minimum=0)
# Seconds /health/ready/ waits for a Celery worker to answer its ping.
FACESITE_HEALTH_PING_TIMEOUT = env_float("FACESITE_HEALTH_PING_TIMEOUT", 1.0, 0.1, 30.0)
