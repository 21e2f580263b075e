from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring import metrics
from monitoring.models import PerformanceStat, WorkerSnapshot
from recognition.models import Job

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("monitoring:dashboard")
DATA = reverse("monitoring:dashboard_data")
PERFORMANCE = reverse("monitoring:performance")


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="operator", is_staff=True)
    client.force_login(user)
    return client


def finished(status, minutes_ago, duration=None, worker="celery@a", **fields):
    end = timezone.now() - timedelta(minutes=minutes_ago)
    return Job.objects.create(
        filename=fields.pop("filename", f"{status.lower()}.jpg"),
        image="uploads/x.jpg",
        status=status,
        created_at=end - timedelta(seconds=(duration or 0) + 1),
        start_time=end - timedelta(seconds=duration or 0),
        end_time=end,
        duration=duration,
        worker_name=worker,
        **fields,
    )


def busy_points(points: list[dict]) -> list[dict]:
    return [point for point in points if point["finished"]]


def test_charts_bucket_throughput_failure_rate_and_percentiles(staff_client):
    for seconds in (1.0, 2.0, 3.0):
        finished(Job.Status.SUCCESS, 10, seconds)
    finished(Job.Status.FAILURE, 10, 0.5, error="Not an image.")
    finished(Job.Status.DEAD, 30, error="Worker lost.")
    finished(Job.Status.SUCCESS, 26 * 60, 9.0)  # older than a day: left out

    data = staff_client.get(DATA).json()

    hour, day = data["series"]["hour"], data["series"]["day"]
    assert len(hour) == 60
    assert len(day) == 48
    ten, thirty = sorted(busy_points(hour), key=lambda p: p["t"], reverse=True)
    assert ten["finished"] == 4
    assert ten["jobs_per_minute"] == 4.0
    assert ten["failure_rate"] == 0.25
    assert ten["p50"] == 1.0  # interpolated in the 0.75-1 s bin
    assert ten["p95"] == pytest.approx(2.8)  # interpolated in the 2-3 s bin
    assert (thirty["finished"], thirty["failure_rate"], thirty["p50"]) == (1, 1.0, None)
    assert sum(p["finished"] for p in day) == 5
    assert data["percentiles"]["hour"] == {"count": 4, "p50": 1.0, "p95": 3.0}
    assert data["percentiles"]["day"] == {"count": 4, "p50": 1.0, "p95": 3.0}
    assert data["activity"]["failed_last_day"] == 2
    assert data["activity"]["avg_duration_last_day"] == pytest.approx(2.0)


def test_workers_show_their_running_job_and_counts(staff_client):
    cache.set(
        metrics.WORKERS_CACHE_KEY,
        {"broker": True, "workers": ["celery@a", "celery@c"], "error": ""},
        60,
    )
    running = Job.objects.create(
        filename="now.jpg",
        image="uploads/x.jpg",
        status=Job.Status.STARTED,
        start_time=timezone.now(),
        worker_name="celery@a",
    )
    finished(Job.Status.SUCCESS, 5, 1.0, worker="celery@a")
    finished(Job.Status.SUCCESS, 90, 3.0, worker="celery@a")
    finished(Job.Status.FAILURE, 5, 0.2, worker="celery@b")

    rows = {row["name"]: row for row in staff_client.get(DATA).json()["worker_rows"]}

    assert list(rows) == ["celery@a", "celery@b", "celery@c"]
    a, b, c = rows["celery@a"], rows["celery@b"], rows["celery@c"]
    assert a["online"] and not b["online"] and c["online"]
    assert [job["id"] for job in a["running"]] == [running.pk]
    assert a["running"][0]["url"] == reverse("recognition:job", args=[running.pk])
    assert (a["finished_hour"], a["finished_day"], a["failed_day"]) == (1, 2, 0)
    assert a["avg_duration"] == pytest.approx(2.0)
    assert (b["finished_day"], b["failed_day"], b["avg_duration"]) == (1, 1, None)
    assert (c["finished_day"], c["running"]) == (0, [])


def test_newest_failures_and_dead_letters_link_to_their_jobs(staff_client):
    failures = [
        finished(Job.Status.FAILURE, 50 - i, 0.1, error=f"reason {i}")
        for i in range(12)
    ]
    dead = finished(Job.Status.DEAD, 3, attempts=5, error="Worker lost twice.")

    data = staff_client.get(DATA).json()
    html = staff_client.get(DASHBOARD).content.decode()

    assert [job["id"] for job in data["failures"]] == [
        job.pk for job in reversed(failures[-10:])
    ]
    assert data["failures"][0]["error"] == "reason 11"
    assert data["dead_letters"] == [
        {
            "id": dead.pk,
            "url": reverse("recognition:job", args=[dead.pk]),
            "filename": "dead.jpg",
            "error": "Worker lost twice.",
            "attempts": 5,
            "created_at": data["dead_letters"][0]["created_at"],
            "end_time": data["dead_letters"][0]["end_time"],
        }
    ]
    changelist = reverse("admin:recognition_job_changelist")
    assert data["links"]["dead_letters"] == f"{changelist}?status__exact=DEAD"
    assert "Worker lost twice." in html
    assert f'href="{changelist}?status__exact=DEAD"' in html


def test_queue_depth_history_comes_from_the_snapshots(staff_client):
    recent = WorkerSnapshot.objects.create(
        broker_ok=True, queue_depths={"high": 1, "default": 4, "bulk": 20}, unacked=2
    )
    old = WorkerSnapshot.objects.create(
        broker_ok=True, queue_depths={"high": 0, "default": 0, "bulk": 7}, unacked=0
    )
    WorkerSnapshot.objects.create(broker_ok=False)  # no reading: left out
    WorkerSnapshot.objects.filter(pk=old.pk).update(
        timestamp=timezone.now() - timedelta(hours=3)
    )

    history = staff_client.get(DATA).json()["queue_history"]

    assert [p["depths"] for p in history["hour"]] == [recent.queue_depths]
    assert [p["depths"]["bulk"] for p in history["day"]] == [7, 20]
    assert history["hour"][0]["unacked"] == 2


def test_live_queue_depths_are_read_and_sampled(staff_client, metrics_redis):
    with metrics_redis.client() as client:
        client.lpush("bulk", "m1", "m2")
        client.lpush("high", "m3")

    data = staff_client.get(DATA).json()

    assert data["queues"] == {
        "depths": {"high": 1, "default": 0, "bulk": 2},
        "total": 3,
        "unacked": 0,
    }
    assert data["queue_history"]["hour"][-1]["depths"] == data["queues"]["depths"]
    html = staff_client.get(DASHBOARD).content.decode()
    assert "high 1 · default 0 · bulk 2 · unacked 0" in html


def test_the_dashboard_page_carries_its_charts_and_data(staff_client):
    html = staff_client.get(DASHBOARD).content.decode()

    for chart in ("throughput", "duration", "failures", "queues"):
        assert f'id="chart-{chart}"' in html
    assert 'id="dashboard-initial"' in html
    assert "js/charts.js" in html
    assert 'href="/dashboard/performance/"' in html


def test_the_performance_page_compares_the_latest_runs(staff_client):
    PerformanceStat.objects.create(
        mode="sequential", num_images=100, total_time=50.0, avg_time=0.5, source="/f"
    )
    PerformanceStat.objects.create(
        mode="distributed",
        num_images=100,
        total_time=26.0,
        avg_time=0.26,
        num_workers=2,
        faces_found=120,
        source="/f",
    )

    response = staff_client.get(PERFORMANCE)

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["comparison"]["ratio"] == pytest.approx(1.92)
    assert "1.92×" in html
    assert [row["mode"] for row in response.context["rows"]] == [
        "distributed",
        "sequential",
    ]
    assert 'id="performance-points"' in html
    assert "js/performance.js" in html
    assert Client().get(PERFORMANCE).status_code == 302  # anonymous: to the login


def test_the_performance_page_without_runs(staff_client):
    response = staff_client.get(PERFORMANCE)

    assert response.status_code == 200
    assert response.context["comparison"] is None
    assert "No runs yet" in response.content.decode()


def test_dashboard_data_stays_bounded_with_100000_jobs(staff_client):
    now = timezone.now()
    statuses = [Job.Status.SUCCESS] * 16 + [
        Job.Status.FAILURE,
        Job.Status.DEAD,
        Job.Status.STARTED,
        Job.Status.PENDING,
    ]
    jobs = []
    for i in range(100_000):
        status = statuses[i % len(statuses)]
        end = now - timedelta(seconds=(i * 1.7) % 172_800)  # two days of jobs
        final = status in Job.FINAL_STATUSES
        duration = 0.2 + (i % 37) / 20 if status != Job.Status.DEAD else None
        jobs.append(
            Job(
                filename=f"{i}.jpg",
                image="uploads/x.jpg",
                status=status,
                created_at=end - timedelta(seconds=3),
                start_time=end - timedelta(seconds=2),
                end_time=end if final else None,
                duration=duration if final else None,
                worker_name=f"celery@node-{i % 4}",
            )
        )
    Job.objects.bulk_create(jobs, batch_size=5000)
    staff_client.get(DATA)  # the ping answer and the day's percentiles are cached

    timings = []
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = staff_client.get(DATA)
            timings.append(time.perf_counter() - started)

    assert response.status_code == 200
    data = response.json()
    assert data["counts"]["total"] == 100_000
    assert data["activity"]["finished_last_day"] > 40_000
    assert len(data["latest_jobs"]) == 20
    assert len(data["worker_rows"]) == 4
    assert len(queries) <= 15, [query["sql"] for query in queries]
    print(
        f"\n/dashboard/data with 100,000 jobs on {connection.vendor}: "
        f"{len(queries)} queries, {min(timings) * 1000:.0f} ms (best of 3), "
        f"{max(timings) * 1000:.0f} ms (worst)"
    )
