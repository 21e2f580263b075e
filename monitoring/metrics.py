"""Figures for the dashboard: each one aggregate query or a slice, never a loop."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Avg, Count, Q
from django.utils import timezone

from monitoring.models import PerformanceStat
from recognition.models import Job

logger = logging.getLogger(__name__)

WORKERS_CACHE_KEY = "monitoring:workers-online"
WORKERS_CACHE_SECONDS = 10
PING_TIMEOUT = 1.0
LATEST_JOBS = 20
LATEST_STATS = 10


def status_counts() -> dict[str, int]:
    """Jobs per status (every status present, zero when none) and the total."""
    counts = dict.fromkeys(Job.Status.values, 0)
    rows = Job.objects.order_by().values_list("status").annotate(n=Count("pk"))
    counts.update(rows)
    counts["total"] = sum(counts.values())
    return counts


def activity(now: datetime | None = None) -> dict[str, float | int | None]:
    """Jobs finished in the last hour and day, their rate, and the mean duration."""
    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    figures = Job.objects.filter(end_time__gte=now - timedelta(days=1)).aggregate(
        finished_hour=Count("pk", filter=Q(end_time__gte=hour_ago)),
        finished_day=Count("pk"),
        failed_day=Count("pk", filter=Q(status=Job.Status.FAILURE)),
        avg_duration=Avg("duration", filter=Q(status=Job.Status.SUCCESS)),
    )
    return {
        "finished_last_hour": figures["finished_hour"],
        "finished_last_day": figures["finished_day"],
        "failed_last_day": figures["failed_day"],
        "per_minute_last_hour": round(figures["finished_hour"] / 60, 2),
        "per_minute_last_day": round(figures["finished_day"] / 1440, 3),
        "avg_duration_last_day": figures["avg_duration"],
    }


def latest_jobs(limit: int = LATEST_JOBS) -> list[dict]:
    jobs = Job.objects.only(
        "filename",
        "status",
        "created_at",
        "duration",
        "worker_name",
        "recognized_name",
        "face_count",
    )[:limit]
    return [
        {
            "id": job.pk,
            "url": job.get_absolute_url(),
            "filename": job.filename,
            "status": job.status,
            "status_label": job.get_status_display(),
            "created_at": job.created_at,
            "duration": job.duration,
            "worker": job.worker_name,
            "recognized_name": job.recognized_name,
            "face_count": job.face_count,
        }
        for job in jobs
    ]


def latest_performance(limit: int = LATEST_STATS) -> list[dict]:
    return [
        {
            "id": stat.pk,
            "mode": stat.mode,
            "num_images": stat.num_images,
            "num_workers": stat.num_workers,
            "total_time": stat.total_time,
            "avg_time": stat.avg_time,
            "images_per_second": round(stat.images_per_second, 3),
            "failures": stat.failures,
            "timestamp": stat.timestamp,
        }
        for stat in PerformanceStat.objects.all()[:limit]
    ]


def ping_workers() -> dict:
    """Ask every Celery worker for a pong; an unreachable broker is an answer too."""
    from facesite import celery_app

    try:
        with celery_app.connection_for_write() as connection:
            # Fail at once when Redis is away instead of retrying for seconds.
            connection.ensure_connection(max_retries=0, timeout=PING_TIMEOUT)
            replies = celery_app.control.ping(
                timeout=PING_TIMEOUT, connection=connection
            )
    except Exception as exc:  # noqa: BLE001 - any broker failure means "unknown"
        logger.warning("Cannot ping the Celery workers: %s", exc)
        return {"broker": False, "workers": [], "error": str(exc)[:300]}
    names = sorted(name for reply in replies for name in reply)
    return {"broker": True, "workers": names, "error": ""}


def workers_online() -> dict:
    """The last ping's answer, at most WORKERS_CACHE_SECONDS old."""
    try:
        answer = cache.get(WORKERS_CACHE_KEY)
    except Exception:  # noqa: BLE001 - the cache is Redis; it may be away too
        answer = None
    if answer is None:
        answer = ping_workers() | {"checked_at": timezone.now()}
        try:
            cache.set(WORKERS_CACHE_KEY, answer, WORKERS_CACHE_SECONDS)
        except Exception:  # noqa: BLE001
            logger.warning("Could not cache the workers' ping answer")
    return answer


def snapshot() -> dict:
    """Everything the dashboard shows, as one JSON-ready dict."""
    return {
        "generated_at": timezone.now(),
        "counts": status_counts(),
        "activity": activity(),
        "workers": workers_online(),
        "latest_jobs": latest_jobs(),
        "performance": latest_performance(),
    }
