from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from facesite import celery_app
from monitoring import metrics
from monitoring.models import PerformanceStat
from recognition.models import Job

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("monitoring:dashboard")
DATA = reverse("monitoring:dashboard_data")


@pytest.fixture(autouse=True)
def unreachable_broker():
    """No broker answers: these tests must never touch a real Redis."""
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    cache.clear()
    yield
    celery_app.conf.broker_url = original
    cache.clear()


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user(
        username="operator", password="secret-password", is_staff=True
    )
    client.force_login(user)
    return client


def make_job(status: str, *, minutes_ago: float = 5, duration: float | None = None):
    now = timezone.now()
    final = status in (Job.Status.SUCCESS, Job.Status.FAILURE)
    end = now - timedelta(minutes=minutes_ago) if final else None
    return Job.objects.create(
        filename=f"{status.lower()}.jpg",
        image="uploads/placeholder.jpg",
        status=status,
        created_at=now - timedelta(minutes=minutes_ago + 1),
        start_time=end - timedelta(seconds=duration or 1) if end else None,
        end_time=end,
        duration=duration if final else None,
        worker_name="celery@box" if final else "",
    )


@pytest.mark.parametrize("url", [DASHBOARD, DATA])
def test_anonymous_users_are_sent_to_the_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [DASHBOARD, DATA])
def test_users_who_are_not_staff_are_sent_to_the_login(client, django_user_model, url):
    client.force_login(django_user_model.objects.create_user(username="visitor"))

    assert client.get(url).status_code == 302


def test_dashboard_shows_counts_duration_and_throughput(staff_client):
    for _ in range(3):
        make_job(Job.Status.PENDING)
    make_job(Job.Status.STARTED)
    make_job(Job.Status.SUCCESS, minutes_ago=10, duration=2.0)
    make_job(Job.Status.SUCCESS, minutes_ago=120, duration=4.0)
    make_job(Job.Status.FAILURE, minutes_ago=20, duration=0.5)
    make_job(Job.Status.SUCCESS, minutes_ago=3 * 24 * 60, duration=60.0)  # too old

    response = staff_client.get(DASHBOARD)

    data = response.context["data"]
    assert response.status_code == 200
    counts = data["counts"]
    assert set(Job.Status.values) <= set(counts)
    assert counts["PENDING"] == 3
    assert counts["STARTED"] == 1
    assert counts["SUCCESS"] == 3
    assert counts["FAILURE"] == 1
    assert counts["total"] == 8
    activity = data["activity"]
    assert activity["finished_last_hour"] == 2
    assert activity["finished_last_day"] == 3
    assert activity["failed_last_day"] == 1
    assert activity["avg_duration_last_day"] == pytest.approx(3.0)
    assert activity["per_minute_last_hour"] == pytest.approx(2 / 60, abs=0.01)
    html = response.content.decode()
    assert "3.00 s" in html
    assert "success.jpg" in html
    assert reverse("recognition:job", args=[Job.objects.first().pk]) in html


def test_dashboard_lists_the_latest_twenty_jobs(staff_client):
    jobs = [make_job(Job.Status.PENDING, minutes_ago=30 - i) for i in range(25)]

    data = staff_client.get(DATA).json()

    assert [row["id"] for row in data["latest_jobs"]] == [
        job.pk for job in reversed(jobs[-20:])
    ]


def test_dashboard_data_has_every_figure(staff_client):
    job = make_job(Job.Status.SUCCESS, duration=1.5)
    PerformanceStat.objects.create(
        mode="sequential", num_images=10, total_time=5.0, avg_time=0.5
    )

    response = staff_client.get(DATA)

    data = response.json()
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert set(data) == {
        "generated_at",
        "counts",
        "activity",
        "workers",
        "latest_jobs",
        "performance",
        "series",
        "percentiles",
        "queues",
        "queue_history",
        "worker_rows",
        "failures",
        "dead_letters",
        "links",
    }
    assert data["counts"]["SUCCESS"] == 1
    assert data["activity"]["avg_duration_last_day"] == pytest.approx(1.5)
    assert data["latest_jobs"][0] == {
        "id": job.pk,
        "url": reverse("recognition:job", args=[job.pk]),
        "filename": "success.jpg",
        "status": "SUCCESS",
        "status_label": "Success",
        "created_at": data["latest_jobs"][0]["created_at"],
        "duration": 1.5,
        "worker": "celery@box",
        "recognized_name": "",
        "face_count": 0,
    }
    stat = data["performance"][0]
    assert stat["mode"] == "sequential"
    assert stat["num_images"] == 10
    assert stat["images_per_second"] == pytest.approx(2.0)
    assert set(data["workers"]) >= {"broker", "workers", "error"}


def test_without_a_broker_the_dashboard_says_no_worker_is_online(staff_client):
    started = time.monotonic()
    response = staff_client.get(DASHBOARD)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.context["data"]["workers"]["broker"] is False
    assert response.context["data"]["workers"]["workers"] == []
    assert "Broker unreachable" in response.content.decode()
    assert elapsed < 5
    workers = staff_client.get(DATA).json()["workers"]
    assert workers["broker"] is False
    assert workers["workers"] == []


def test_the_ping_answer_is_cached(staff_client):
    staff_client.get(DASHBOARD)
    assert cache.get(metrics.WORKERS_CACHE_KEY)["broker"] is False

    # A cached answer is shown as it is until it expires.
    cache.set(
        metrics.WORKERS_CACHE_KEY,
        {"broker": True, "workers": ["celery@node-1"], "error": ""},
        metrics.WORKERS_CACHE_SECONDS,
    )
    html = staff_client.get(DASHBOARD).content.decode()

    assert "1 worker online" in html
    assert "celery@node-1" in html
    assert '<span class="worker-name is-online"><code>celery@node-1</code>' in html


def test_the_performance_runs_are_listed(staff_client):
    PerformanceStat.objects.create(
        mode="distributed", num_images=40, total_time=10.0, avg_time=0.25
    )

    html = staff_client.get(DASHBOARD).content.decode()

    assert "distributed" in html
    assert "4.00" in html  # images per second


@pytest.mark.parametrize("url", [DASHBOARD, DATA])
def test_the_dashboard_runs_a_bounded_number_of_queries(staff_client, url):
    statuses = list(Job.Status)
    for i in range(50):
        make_job(statuses[i % 4], minutes_ago=i, duration=1.0 + i / 10)
    for _ in range(15):
        PerformanceStat.objects.create(
            mode="sequential", num_images=5, total_time=2.0, avg_time=0.4
        )
    staff_client.get(url)  # the ping answer is cached from here on

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(url)

    assert response.status_code == 200
    assert len(queries) <= 15, [query["sql"] for query in queries]
