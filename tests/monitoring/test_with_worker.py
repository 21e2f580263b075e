"""Health, diagnose, metrics and the benchmark against a real Redis and worker."""

from __future__ import annotations

import re
import time

import pytest
from django.core.management import call_command
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from monitoring.models import PerformanceStat

pytestmark = pytest.mark.integration


def scrape(client) -> dict[tuple, float]:
    response = client.get(reverse("probes:metrics"))
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def wait_for_sample(client, key: tuple, timeout: float = 15) -> dict:
    # The worker records a job's metrics just after the task returns, a moment after
    # the job row is final.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = scrape(client)
        if samples.get(key):
            return samples
        time.sleep(0.2)
    pytest.fail(f"{key} never appeared in /metrics")


def test_a_real_worker_passes_readiness_and_records_its_jobs(
    start_worker, client, django_user_model, settings, capsys, tmp_path, astronaut_jpeg
):
    worker = start_worker(concurrency=1)
    settings.FACESITE_HEALTH_PING_TIMEOUT = 3.0

    ready = client.get(reverse("probes:ready"))
    call_command("diagnose", "--timeout", "120")
    out = capsys.readouterr().out

    assert ready.status_code == 200, ready.json()
    assert worker.name in ready.json()["checks"]["workers"]["detail"]
    assert re.search(r"job #\d+ SUCCESS after", out), out
    assert "faces: 2 (" in out
    assert "No problems found." in out
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    finished = (
        "facesite_jobs_finished_total",
        (("queue", "high"), ("status", "SUCCESS")),
    )
    samples = wait_for_sample(client, finished)
    assert samples[finished] == 1
    assert (
        samples[("facesite_job_stage_duration_seconds_count", (("stage", "encode"),))]
        == 1
    )
    assert samples[("facesite_faces_recognized_total", (("verdict", "unknown"),))] == 2
    assert samples[("facesite_workers_online", ())] == 1

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (photos / name).write_bytes(astronaut_jpeg)
    call_command("benchmark", str(photos), "--modes", "distributed")

    stat = PerformanceStat.objects.get()
    assert (stat.mode, stat.num_images, stat.num_workers, stat.faces_found) == (
        "distributed",
        2,
        1,
        4,
    )
    bulk = ("facesite_jobs_finished_total", (("queue", "bulk"), ("status", "SUCCESS")))
    assert wait_for_sample(client, bulk)[bulk] == 2
