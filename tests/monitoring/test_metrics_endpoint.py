from __future__ import annotations

import multiprocessing
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from monitoring import recorder
from recognition.models import Job, KnownFace, Person

pytestmark = pytest.mark.django_db

METRICS = reverse("probes:metrics")
TIMINGS = {
    "decode": 0.004,
    "detect": 0.2,
    "encode": 0.3,
    "match": 0.0004,
    "annotate": 0.02,
}


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="ops", is_staff=True)
    client.force_login(user)
    return client


def finished_job(status=Job.Status.SUCCESS, priority=Job.Priority.HIGH, **fields):
    now = timezone.now()
    values = {
        "filename": "photo.jpg",
        "image": "uploads/photo.jpg",
        "status": status,
        "priority": priority,
        "created_at": now - timedelta(seconds=3),
        "start_time": now - timedelta(seconds=2),
        "end_time": now,
        "duration": 0.6,
        "attempts": 1,
    }
    if status == Job.Status.SUCCESS:
        values["timings"] = TIMINGS
        values["faces"] = [
            {"name": "Ada", "verdict": "match"},
            {"name": None, "verdict": "unknown"},
            {"name": None, "verdict": "ambiguous"},
        ]
    return Job.objects.create(**(values | fields))


def key(name: str, **labels: str) -> str:
    """The scrape() key of one sample: its name and its labels in sorted order."""
    return name + "".join(f"|{k}={v}" for k, v in sorted(labels.items()))


def scrape(client, **headers) -> dict[str, float]:
    """Sample name (+ labels) -> value, from a real /metrics answer."""
    response = client.get(METRICS, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[key(sample.name, **sample.labels)] = sample.value
    return samples


def test_anonymous_scrapes_are_refused(client):
    response = client.get(METRICS)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_a_wrong_token_is_refused_and_the_right_one_accepted(client, settings):
    settings.FACESITE_METRICS_TOKEN = "s3cret-token"

    wrong = client.get(METRICS, HTTP_AUTHORIZATION="Bearer nope")
    samples = scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-token")

    assert wrong.status_code == 401
    assert "facesite_jobs|queue=high|status=SUCCESS" in samples


def test_without_a_token_setting_no_bearer_is_accepted(client, settings):
    settings.FACESITE_METRICS_TOKEN = ""

    assert client.get(METRICS, HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_with_redis_down_the_database_gauges_are_still_served(staff_client):
    finished_job()
    finished_job()
    finished_job(Job.Status.DEAD, Job.Priority.LOW, duration=None)
    Job.objects.create(filename="w.jpg", image="uploads/w.jpg")
    person = Person.objects.create(name="Ada")
    for i in range(3):
        KnownFace.objects.create(
            person=person,
            image=f"known_faces/{i}.jpg",
            sha256=f"{i:064d}",
            encoding=np.zeros(128).tobytes(),
        )

    samples = scrape(staff_client)

    assert samples["facesite_metrics_store_up"] == 0
    assert samples["facesite_broker_up"] == 0
    assert samples["facesite_jobs|queue=high|status=SUCCESS"] == 2
    assert samples["facesite_jobs|queue=bulk|status=DEAD"] == 1
    assert samples["facesite_jobs|queue=default|status=PENDING"] == 1
    assert samples["facesite_jobs|queue=high|status=FAILURE"] == 0
    assert samples["facesite_dead_letters"] == 1
    assert samples["facesite_gallery_people"] == 1
    assert samples["facesite_gallery_encodings"] == 3
    assert not any(key.startswith("facesite_job_duration") for key in samples)
    assert "facesite_queue_depth|queue=high" not in samples


def test_a_recorded_job_shows_in_every_worker_metric(metrics_redis, staff_client):
    job = finished_job(duration=0.6)

    assert recorder.record_job(job) is True
    samples = scrape(staff_client)

    assert samples["facesite_metrics_store_up"] == 1
    assert samples["facesite_jobs_finished_total|queue=high|status=SUCCESS"] == 1
    duration = "facesite_job_duration_seconds"
    labels = {"queue": "high", "status": "SUCCESS"}
    assert samples[key(f"{duration}_count", **labels)] == 1
    assert samples[key(f"{duration}_sum", **labels)] == pytest.approx(0.6)
    assert samples[key(f"{duration}_bucket", le="0.5", **labels)] == 0
    assert samples[key(f"{duration}_bucket", le="1.0", **labels)] == 1
    assert samples[key(f"{duration}_bucket", le="+Inf", **labels)] == 1
    stage = "facesite_job_stage_duration_seconds"
    for name, seconds in TIMINGS.items():
        assert samples[key(f"{stage}_count", stage=name)] == 1
        assert samples[key(f"{stage}_sum", stage=name)] == pytest.approx(seconds)
    assert samples[key(f"{stage}_bucket", le="0.25", stage="detect")] == 1
    assert samples[key(f"{stage}_bucket", le="0.1", stage="detect")] == 0
    wait = "facesite_job_queue_wait_seconds"
    assert samples[key(f"{wait}_sum", queue="high")] == pytest.approx(1.0)
    for verdict in ("match", "unknown", "ambiguous"):
        assert samples[f"facesite_faces_recognized_total|verdict={verdict}"] == 1
    assert samples["facesite_broker_up"] == 1
    assert samples["facesite_queue_depth|queue=bulk"] == 0
    assert samples["facesite_queue_unacked"] == 0


def test_a_job_is_recorded_once_however_often_it_is_reported(metrics_redis):
    job = finished_job(Job.Status.FAILURE, Job.Priority.NORMAL, error="bad")

    assert recorder.record_job(job) is True
    assert recorder.record_job(job) is False
    assert recorder.record_job(Job.objects.get(pk=job.pk)) is False

    recorded = recorder.read()
    assert recorded["facesite_jobs_finished|default,FAILURE|total"] == 1
    assert not any("stage" in key for key in recorded)


def test_a_revived_job_that_finishes_again_counts_again(metrics_redis):
    job = finished_job()
    recorder.record_job(job)
    job.end_time += timedelta(minutes=5)

    assert recorder.record_job(job) is True
    assert recorder.read()["facesite_jobs_finished|high,SUCCESS|total"] == 2


def test_unfinished_jobs_are_not_recorded(metrics_redis):
    job = Job.objects.create(filename="p.jpg", image="uploads/p.jpg")

    assert recorder.record_job(job) is False
    assert recorder.read() == {}


def test_recording_without_redis_returns_false_and_does_not_raise():
    assert recorder.record_job(finished_job()) is False
    assert recorder.read() is None


def record_all(jobs: list[Job]) -> int:
    return sum(recorder.record_job(job) for job in jobs)


def test_metrics_from_several_processes_add_up(metrics_redis, staff_client):
    jobs = [finished_job(duration=0.1 + i / 100) for i in range(120)]
    shares = [jobs[i::4] for i in range(4)]

    # Four real processes, each with its own Redis connections, as four workers.
    with multiprocessing.get_context("fork").Pool(4) as pool:
        recorded = pool.map(record_all, shares)
    samples = scrape(staff_client)

    assert recorded == [30, 30, 30, 30]
    labels = {"queue": "high", "status": "SUCCESS"}
    duration = "facesite_job_duration_seconds"
    assert samples[key("facesite_jobs_finished_total", **labels)] == 120
    assert samples[key(f"{duration}_count", **labels)] == 120
    assert samples[key(f"{duration}_sum", **labels)] == pytest.approx(
        sum(job.duration for job in jobs)
    )
    # 0.10 … 0.50 s: the first 41 jobs are within the 0.5 s bucket.
    assert samples[key(f"{duration}_bucket", le="0.5", **labels)] == 41
    assert samples["facesite_faces_recognized_total|verdict=match"] == 120
