"""Everything an operator (or a bug report) needs: versions, settings, health, queues,
the gallery, and one real recognition end to end through the queue."""

from __future__ import annotations

import io
import platform
import time
import uuid
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Count
from kombu.utils.url import maybe_sanitize_url

from monitoring import checks, metrics, queues, recorder
from recognition.models import Job, KnownFace
from recognition.tasks import enqueue
from recognition.uploads import create_job

PACKAGES = (
    "Django",
    "celery",
    "kombu",
    "redis",
    "numpy",
    "opencv-python-headless",
    "pillow",
    "dlib-bin",
    "face_recognition",
    "face_recognition_models",
    "scikit-image",
    "prometheus-client",
    "gunicorn",
)
SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "API_KEY")
SETTINGS_SHOWN = (
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECRET_KEY",
    "TIME_ZONE",
    "MEDIA_ROOT",
    "REDIS_URL",
    "CELERY_TASK_TIME_LIMIT",
    "CELERY_TASK_SOFT_TIME_LIMIT",
    "CELERY_WORKER_MAX_TASKS_PER_CHILD",
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
)
NO_WORKER = (
    "No Celery worker answered a ping, so the end-to-end recognition was not run. "
    "Start one (`make run`, or `make worker`) and run diagnose again."
)


class Command(BaseCommand):
    help = (
        "Print versions, settings (secrets masked), health checks, queue depths and "
        "the gallery's size, then recognise a bundled photo through the queue."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--timeout",
            type=float,
            default=60.0,
            help="Seconds to wait for the end-to-end job (default 60).",
        )
        parser.add_argument(
            "--skip-job",
            action="store_true",
            help="Do not queue the end-to-end recognition.",
        )

    def handle(self, *args: object, **options: object) -> None:
        self.problems: list[str] = []
        self.section("Versions", versions())
        self.section("Settings (secrets masked)", shown_settings())
        self.health()
        workers = self.queues()
        self.section("Gallery and jobs", gallery_lines())
        if options["skip_job"]:
            self.section("End to end", ["skipped (--skip-job)"])
        elif not workers:
            self.problems.append("no worker answered")
            self.section("End to end", [NO_WORKER])
        else:
            self.end_to_end(float(options["timeout"]))
        if self.problems:
            raise CommandError("Problems found: " + "; ".join(self.problems))
        self.stdout.write(self.style.SUCCESS("\nNo problems found."))

    def section(self, title: str, lines: list[str]) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n{title}"))
        for line in lines:
            self.stdout.write(f"  {line}")

    def health(self) -> None:
        results = checks.run_all(checks.READINESS)
        lines = [f"{'ok  ' if r.ok else 'FAIL'}  {r.name}: {r.detail}" for r in results]
        self.section("Health", lines)
        self.problems += [f"{r.name} check failed" for r in results if not r.ok]

    def queues(self) -> list[str]:
        answer = metrics.ping_workers(settings.FACESITE_HEALTH_PING_TIMEOUT)
        depths = queues.queue_depths()
        lines = [
            f"broker: {maybe_sanitize_url(settings.CELERY_BROKER_URL)} "
            f"({'answers' if answer['broker'] else 'unreachable'})",
            "depths: "
            + (
                ", ".join(f"{name} {n}" for name, n in depths.items())
                if depths is not None
                else "unknown"
            ),
            f"unacknowledged: {queues.unacked_count()}",
            f"workers online: {', '.join(answer['workers']) or 'none'}",
        ]
        self.section("Queues", lines)
        return answer["workers"]

    def end_to_end(self, timeout: float) -> None:
        job = create_job(
            astronaut_jpeg(), "diagnose-astronaut.jpg", uuid.uuid4(), Job.Priority.HIGH
        )
        started = time.monotonic()
        if not enqueue(job):
            self.problems.append("the end-to-end job could not be queued")
            self.section("End to end", [f"job #{job.pk} could not be queued"])
            return
        while not job.is_final and time.monotonic() - started < timeout:
            time.sleep(0.2)
            job.refresh_from_db()
        elapsed = time.monotonic() - started
        lines = [f"job #{job.pk} {job.status} after {elapsed:.2f} s ({job.filename})"]
        lines += job_lines(job)
        if job.status != Job.Status.SUCCESS or not job.face_count:
            self.problems.append(f"end-to-end job #{job.pk} ended {job.status}")
        self.section("End to end (scikit-image's astronaut photo)", lines)


def versions() -> list[str]:
    lines = [
        f"Python {platform.python_version()} on {platform.platform()}",
        f"database: {connection.vendor} {database_version()}",
        f"Redis server: {redis_version()}",
    ]
    for name in PACKAGES:
        try:
            lines.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{name} not installed")
    return lines


def database_version() -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
        else:
            cursor.execute("SELECT version()")
        return str(cursor.fetchone()[0]).split(",")[0]


def redis_version() -> str:
    try:
        return str(recorder.client().info("server").get("redis_version"))
    except Exception as exc:  # noqa: BLE001 - diagnose reports, it does not stop
        return f"unreachable ({exc})"


def mask(name: str, value: object) -> str:
    if any(word in name for word in SECRET_WORDS):
        return f"*** ({len(str(value))} characters)" if value else "(not set)"
    if isinstance(value, str) and "://" in value:
        return maybe_sanitize_url(value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def shown_settings() -> list[str]:
    database = settings.DATABASES["default"]
    lines = [
        f"DATABASE: {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']} "
        f"host={database.get('HOST') or '-'} user={database.get('USER') or '-'} "
        f"password={'***' if database.get('PASSWORD') else '-'}",
        f"STORAGE: {settings.STORAGES['default']['BACKEND']}",
    ]
    names = list(SETTINGS_SHOWN) + sorted(
        name for name in dir(settings) if name.startswith("FACESITE_")
    )
    lines += [f"{name} = {mask(name, getattr(settings, name, None))}" for name in names]
    return lines


def gallery_lines() -> list[str]:
    size = KnownFace.objects.aggregate(
        encodings=Count("pk"), people=Count("person", distinct=True)
    )
    counts = dict(Job.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return [
        f"{size['people']} people, {size['encodings']} enrolled encodings",
        "jobs: " + ", ".join(f"{s} {counts.get(s, 0)}" for s in Job.Status.values),
    ]


def job_lines(job: Job) -> list[str]:
    if job.error:
        return [f"error: {job.error}"]
    wait = (job.start_time - job.created_at).total_seconds() if job.start_time else None
    faces = ", ".join(
        f"{face.get('name') or face.get('verdict', 'unknown')} "
        f"({face.get('distance') if face.get('distance') is not None else '-'})"
        for face in job.faces
    )
    timings = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in job.timings.items())
    return [
        f"worker: {job.worker_name or '-'}, attempts {job.attempts}",
        f"queue wait: {wait:.3f} s" if wait is not None else "queue wait: -",
        f"duration: {job.duration:.3f} s" if job.duration else "duration: -",
        f"faces: {job.face_count} ({faces or 'none'})",
        f"stages: {timings or '-'}",
        f"page: {job.get_absolute_url()}",
    ]


def astronaut_jpeg() -> bytes:
    """scikit-image's astronaut (Eileen Collins): a real photo bundled with it."""
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()
