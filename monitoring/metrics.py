"""Figures for the dashboard: each one aggregate query or a slice, never a loop.

The dashboard data stays bounded with any number of job rows: counts are GROUP BYs,
lists are slices on indexed orderings, and time series come from monitoring.series.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Avg, Count, Max, Q
from django.urls import reverse
from django.utils import timezone

from monitoring import queues, runs, series
from monitoring.models import PerformanceStat
from recognition.models import Job

logger = logging.getLogger(__name__)

WORKERS_CACHE_KEY = "monitoring:workers-online"
WORKERS_CACHE_SECONDS = 10
PING_TIMEOUT = 1.0
LATEST_JOBS = 20
LATEST_STATS = 10
LATEST_PROBLEMS = 10
MAX_WORKER_ROWS = 50
MAX_RUNNING = 100
NO_COUNTS = {
    "finished_hour": 0,
    "finished_day": 0,
    "failed_day": 0,
    "avg_duration": None,
    "last_finished": None,
}


def status_counts() -> dict[str, int]:
    """Jobs per status (every status present, zero when none) and the total."""
    counts = dict.fromkeys(Job.Status.values, 0)
    rows = Job.objects.order_by().values_list("status").annotate(n=Count("pk"))
    counts.update(rows)
    counts["total"] = sum(counts.values())
    return counts


def activity(
    now: datetime | None = None, rows: list[dict] | None = None
) -> dict[str, float | int | None]:
    """Jobs finished in the last hour and day, their rate, and the mean duration.

    From the per-minute rows of series.minute_rows (pass them to save the query).
    Failed counts FAILURE and DEAD; the mean duration is over successful jobs.
    """
    now = now or timezone.now()
    if rows is None:
        rows = series.minute_rows(now - timedelta(days=1))
    hour_start = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    finished_hour = sum(row["finished"] for row in rows if row["minute"] >= hour_start)
    finished_day = sum(row["finished"] for row in rows)
    succeeded = sum(row["succeeded"] for row in rows)
    seconds = sum(row["success_seconds"] or 0.0 for row in rows)
    return {
        "finished_last_hour": finished_hour,
        "finished_last_day": finished_day,
        "failed_last_day": sum(row["failed"] for row in rows),
        "per_minute_last_hour": round(finished_hour / 60, 2),
        "per_minute_last_day": round(finished_day / 1440, 3),
        "avg_duration_last_day": seconds / succeeded if succeeded else None,
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
    return [runs.stat_point(stat) for stat in PerformanceStat.objects.all()[:limit]]


def ping_workers(timeout: float = PING_TIMEOUT) -> dict:
    """Ask every Celery worker for a pong; an unreachable broker is an answer too."""
    from facesite import celery_app

    try:
        with celery_app.connection_for_write() as connection:
            # Fail at once when Redis is away instead of retrying for seconds.
            connection.ensure_connection(max_retries=0, timeout=timeout)
            replies = celery_app.control.ping(timeout=timeout, connection=connection)
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


def problem_jobs(status: str, limit: int = LATEST_PROBLEMS) -> list[dict]:
    """The newest jobs in one status, read along the (status, created_at) index."""
    jobs = (
        Job.objects.filter(status=status)
        .order_by("-created_at", "-id")
        .only("filename", "status", "created_at", "end_time", "error", "attempts")[
            :limit
        ]
    )
    return [
        {
            "id": job.pk,
            "url": job.get_absolute_url(),
            "filename": job.filename,
            "error": job.error[:300],
            "attempts": job.attempts,
            "created_at": job.created_at,
            "end_time": job.end_time,
        }
        for job in jobs
    ]


def running_jobs() -> dict[str, list[dict]]:
    """Jobs STARTED now, per worker name."""
    rows = (
        Job.objects.filter(status=Job.Status.STARTED)
        .order_by("-created_at")
        .values("id", "filename", "worker_name", "start_time")[:MAX_RUNNING]
    )
    running: dict[str, list[dict]] = {}
    for row in rows:
        job = {
            "id": row["id"],
            "url": reverse("recognition:job", args=[row["id"]]),
            "filename": row["filename"],
            "start_time": row["start_time"],
        }
        running.setdefault(row["worker_name"], []).append(job)
    return running


def worker_counts(now: datetime) -> dict[str, dict]:
    """Jobs each worker finished in the last hour and day (one GROUP BY)."""
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    rows = (
        Job.objects.filter(end_time__gte=day_ago)
        .exclude(worker_name="")
        .order_by()
        .values("worker_name")
        .annotate(
            finished_hour=Count("pk", filter=Q(end_time__gte=hour_ago)),
            finished_day=Count("pk"),
            failed_day=Count("pk", filter=Q(status__in=series.FAILED)),
            avg_duration=Avg("duration", filter=Q(status=Job.Status.SUCCESS)),
            last_finished=Max("end_time"),
        )
        .order_by("-last_finished")[:MAX_WORKER_ROWS]
    )
    return {row.pop("worker_name"): row for row in rows}


def worker_rows(answer: dict, now: datetime | None = None) -> list[dict]:
    """One row per worker seen online, running a job, or finishing one today."""
    now = now or timezone.now()
    online = set(answer.get("workers", []))
    running, counts = running_jobs(), worker_counts(now)
    names = sorted(online | set(running) | set(counts))[:MAX_WORKER_ROWS]
    return [
        {
            "name": name or "(unknown)",
            "online": name in online,
            "running": running.get(name, []),
            **counts.get(name, NO_COUNTS),
        }
        for name in names
    ]


def live_queues() -> dict | None:
    depths = queues.queue_depths()
    if depths is None:
        return None
    return {
        "depths": depths,
        "total": sum(depths.values()),
        "unacked": queues.unacked_count(),
    }


def links() -> dict[str, str]:
    changelist = reverse("admin:recognition_job_changelist")
    return {
        "failures": f"{changelist}?status__exact={Job.Status.FAILURE}",
        "dead_letters": f"{changelist}?status__exact={Job.Status.DEAD}",
        "performance": reverse("monitoring:performance"),
        "metrics": reverse("probes:metrics"),
        "health": reverse("probes:ready"),
    }


def snapshot() -> dict:
    """Everything the dashboard shows, as one JSON-ready dict."""
    now = timezone.now()
    workers = workers_online()
    live = live_queues()
    rows = series.minute_rows(now - timedelta(days=1))
    job_series = series.job_series(now, rows)
    return {
        "generated_at": now,
        "counts": status_counts(),
        "activity": activity(now, rows),
        "workers": workers,
        "latest_jobs": latest_jobs(),
        "performance": latest_performance(),
        "series": job_series,
        "percentiles": series.percentiles(job_series, now),
        "queues": live,
        "queue_history": series.queue_history(live, now),
        "worker_rows": worker_rows(workers, now),
        "failures": problem_jobs(Job.Status.FAILURE),
        "dead_letters": problem_jobs(Job.Status.DEAD),
        "links": links(),
    }
