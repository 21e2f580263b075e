"""Time series for the dashboard's charts, each from one bounded, aggregate query.

Jobs per minute, failure rate and duration percentiles come from a single GROUP BY
over the last day's finished jobs (by minute of end_time, on its index). Percentiles
per time bucket are interpolated from duration histogram counts that the same query
computes, as Prometheus' histogram_quantile does; the headline p50/p95 of the hour and
the day are exact (one ORDER BY … LIMIT 1 OFFSET k each). Queue depth comes from the
beat task's WorkerSnapshot rows plus samples taken as the dashboard polls.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db.models import CharField, Count, Func, Q, Sum
from django.utils import timezone

from recognition.models import Job

from .models import WorkerSnapshot

# Upper bounds (seconds) of the duration histogram the percentiles are read from.
DURATION_BOUNDS = (0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300)
FAILED = (Job.Status.FAILURE, Job.Status.DEAD)
SAMPLES_KEY = "monitoring:queue-samples"
SAMPLE_EVERY = timedelta(seconds=20)


@dataclass(frozen=True)
class Window:
    name: str
    span: timedelta
    bucket: timedelta

    def start(self, now: datetime) -> datetime:
        """The start of the first bucket; the last bucket holds `now`."""
        step = self.bucket.total_seconds()
        last = math.floor(now.timestamp() / step) * step
        return datetime.fromtimestamp(last, UTC) + self.bucket - self.span

    @property
    def count(self) -> int:
        return int(self.span / self.bucket)


HOUR = Window("hour", timedelta(hours=1), timedelta(minutes=1))
DAY = Window("day", timedelta(days=1), timedelta(minutes=30))
WINDOWS = (HOUR, DAY)


POSTGRES_MINUTE = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"


class MinuteKey(Func):
    """A UTC datetime column's minute as text, "YYYY-MM-DD HH:MM".

    Django's TruncMinute is a Python function per row on SQLite (0.3 s for 50,000
    rows); SQLite stores UTC datetimes as ISO text, so a prefix is the minute.
    """

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):  # noqa: ANN001, ANN003
        return self.as_sql(
            compiler, connection, template="substr(%(expressions)s, 1, 16)", **extra
        )

    def as_postgresql(self, compiler, connection, **extra):  # noqa: ANN001, ANN003
        return self.as_sql(
            compiler,
            connection,
            template=POSTGRES_MINUTE,
            **extra,
        )


def parse_minute(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def minute_rows(since: datetime) -> list[dict]:
    """Per minute of end_time since `since`: finished, failed, and histogram counts."""
    histogram = {
        f"le{i}": Count("pk", filter=Q(duration__lte=bound))
        for i, bound in enumerate(DURATION_BOUNDS)
    }
    rows = (
        Job.objects.filter(end_time__gte=since)
        .order_by()
        .annotate(minute=MinuteKey("end_time"))
        .values("minute")
        .annotate(
            finished=Count("pk"),
            failed=Count("pk", filter=Q(status__in=FAILED)),
            timed=Count("duration"),
            succeeded=Count("pk", filter=Q(status=Job.Status.SUCCESS)),
            success_seconds=Sum("duration", filter=Q(status=Job.Status.SUCCESS)),
            **histogram,
        )
    )
    return [row | {"minute": parse_minute(row["minute"])} for row in rows]


def empty_bucket() -> dict:
    counts = dict.fromkeys(("finished", "failed", "timed"), 0)
    return counts | {f"le{i}": 0 for i in range(len(DURATION_BOUNDS))}


def bucketed(rows: list[dict], window: Window, now: datetime) -> list[dict]:
    """The minute rows summed into the window's buckets, oldest first."""
    start = window.start(now)
    buckets = [empty_bucket() for _ in range(window.count)]
    for row in rows:
        index = int((row["minute"] - start) / window.bucket)
        if 0 <= index < window.count:
            for key, total in buckets[index].items():
                buckets[index][key] = total + row[key]
    return [
        {"t": start + window.bucket * i} | bucket for i, bucket in enumerate(buckets)
    ]


def histogram_quantile(q: float, bucket: dict) -> float | None:
    """The q-quantile of a bucket's durations, linear within histogram bins."""
    total = bucket["timed"]
    if not total:
        return None
    rank, lower, below = q * total, 0.0, 0
    for i, bound in enumerate(DURATION_BOUNDS):
        count = bucket[f"le{i}"]
        if count >= rank:
            share = (rank - below) / (count - below) if count > below else 1.0
            return round(lower + (bound - lower) * share, 3)
        lower, below = bound, count
    return DURATION_BOUNDS[-1]  # beyond the last bound: report the bound


def point(bucket: dict, window: Window) -> dict:
    minutes = window.bucket.total_seconds() / 60
    finished = bucket["finished"]
    return {
        "t": bucket["t"],
        "finished": finished,
        "timed": bucket["timed"],
        "jobs_per_minute": round(finished / minutes, 3),
        "failure_rate": round(bucket["failed"] / finished, 4) if finished else None,
        "p50": histogram_quantile(0.5, bucket),
        "p95": histogram_quantile(0.95, bucket),
    }


def job_series(
    now: datetime | None = None, rows: list[dict] | None = None
) -> dict[str, list[dict]]:
    """Chart points per window (hour: 60 × 1 min; day: 48 × 30 min)."""
    now = now or timezone.now()
    if rows is None:
        rows = minute_rows(DAY.start(now))
    return {
        window.name: [point(bucket, window) for bucket in bucketed(rows, window, now)]
        for window in WINDOWS
    }


def exact_percentiles(since: datetime, count: int) -> dict[str, float | None]:
    """p50 and p95 of the durations of jobs finished since `since`, exactly."""
    timed = Job.objects.filter(end_time__gte=since, duration__isnull=False).order_by(
        "duration"
    )
    figures: dict[str, float | None] = {"count": count}
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        if not count:
            figures[name] = None
            continue
        # Nearest rank; the sort is bounded to the window by the end_time index.
        rank = min(count - 1, max(0, math.ceil(q * count) - 1))
        found = timed.values_list("duration", flat=True)[rank : rank + 1]
        figures[name] = next(iter(found), None)
    return figures


def percentiles(series: dict[str, list[dict]], now: datetime | None = None) -> dict:
    """Exact p50/p95 per window; the day's are cached a minute (two sorts of a day)."""
    now = now or timezone.now()
    result = {}
    for window in WINDOWS:
        timed = sum(p["timed"] for p in series[window.name])
        if window is HOUR:
            result[window.name] = exact_percentiles(window.start(now), timed)
        else:
            result[window.name] = cached(
                f"monitoring:percentiles:{window.name}",
                lambda w=window, n=timed: exact_percentiles(w.start(now), n),
            )
    return result


def cached(key: str, compute: Callable[[], dict], seconds: int = 60) -> dict:
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 - the cache is Redis; it may be away
        value = None
    if value is None:
        value = compute()
        with contextlib.suppress(Exception):
            cache.set(key, value, seconds)
    return value


# --- Queue depth -------------------------------------------------------------------


def queue_history(live: dict | None, now: datetime | None = None) -> dict:
    """Queue depth points per window: snapshots, then samples taken while polling."""
    now = now or timezone.now()
    rows = WorkerSnapshot.objects.filter(
        timestamp__gte=now - DAY.span, broker_ok=True
    ).values_list("timestamp", "queue_depths", "unacked")[: 24 * 12 * 2]
    snapshots = [
        {"t": t, "depths": depths, "unacked": unacked} for t, depths, unacked in rows
    ]
    samples = record_sample(live, now)
    hour_start = now - HOUR.span
    return {
        "hour": merge(
            [p for p in snapshots if p["t"] >= hour_start]
            + [p for p in samples if p["t"] >= hour_start]
        ),
        "day": merge(snapshots + samples[-1:]),
    }


def merge(points: list[dict]) -> list[dict]:
    return sorted(points, key=lambda p: p["t"])


def record_sample(live: dict | None, now: datetime) -> list[dict]:
    """Keep the last hour of live depth readings in the cache, one per 20 s at most."""
    try:
        samples = cache.get(SAMPLES_KEY) or []
    except Exception:  # noqa: BLE001 - the cache is Redis; it may be away
        return []
    samples = [s for s in samples if s["t"] >= now - HOUR.span]
    if live is not None and (not samples or now - samples[-1]["t"] >= SAMPLE_EVERY):
        samples.append({"t": now} | live)
        with contextlib.suppress(Exception):
            cache.set(SAMPLES_KEY, samples, int(HOUR.span.total_seconds()))
    return samples
