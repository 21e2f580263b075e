"""Many jobs at once across several worker processes: each ends once, none twice.

The photos are 64 x 64 noise (no face): a real pipeline run each, of milliseconds,
so the queue, the claims and the database writes are what is being tested.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django_celery_results.models import TaskResult

from recognition.models import Job
from recognition.tasks import enqueue
from recognition.uploads import create_job
from tests.conftest import jpeg_bytes
from tests.integration.conftest import result_files

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BURST = 300
PER_POST = 50  # FACESITE_MAX_FILES_PER_UPLOAD
POSTED = 200  # through the upload view; the rest are queued as a bulk folder would
BURST_SECONDS = 600
# The worker's log line for each run of a task that ended (succeeded, retried, raised).
LOGGED_RUN = re.compile(r"process_job\[([0-9a-f-]+)\] (?:succeeded|retry|raised)")


@pytest.fixture
def client(client, django_user_model):
    """Uploads need a login (tests/security covers who may see what)."""
    client.force_login(django_user_model.objects.create_user("uploader"))
    return client


def noise_photos(count: int, seed: int = 3) -> list[bytes]:
    rng = np.random.default_rng(seed)
    shape = (64, 64, 3)
    return [
        jpeg_bytes(rng.integers(0, 256, shape, dtype=np.uint8)) for _ in range(count)
    ]


def post_photos(client, photos: list[bytes]) -> None:
    files = [
        SimpleUploadedFile(f"noise-{n}.jpg", data, "image/jpeg")
        for n, data in enumerate(photos)
    ]
    response = client.post(reverse("recognition:upload"), {"images": files})
    assert response.status_code == 302, response.content[:500]


def queue_bulk(photos: list[bytes]) -> None:
    submission = uuid.uuid4()
    for n, data in enumerate(photos):
        job = create_job(data, f"bulk-{n}.jpg", submission, Job.Priority.LOW)
        assert enqueue(job)


def wait_for_logged_runs(
    workers: list, jobs: list[Job], timeout: float = 60
) -> Counter:
    """Task id -> how many runs the workers logged, once every task has one."""
    task_ids = {job.task_id for job in jobs}
    deadline = time.monotonic() + timeout
    while True:
        text = "\n".join(worker.log(lines=1_000_000) for worker in workers)
        runs = Counter(
            task_id for task_id in LOGGED_RUN.findall(text) if task_id in task_ids
        )
        if set(runs) == task_ids or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def assert_each_done_once(workers: list, jobs: list[Job], media_root) -> None:
    assert Counter(job.status for job in jobs) == {Job.Status.SUCCESS: len(jobs)}
    assert Counter(job.attempts for job in jobs) == {1: len(jobs)}
    assert result_files(media_root) == sorted(f"{job.pk}.jpg" for job in jobs)
    task_ids = {job.task_id for job in jobs}
    assert len(task_ids) == len(jobs)
    runs = wait_for_logged_runs(workers, jobs)
    assert set(runs) == task_ids, f"{len(task_ids - set(runs))} tasks never logged"
    assert runs.most_common(1)[0][1] == 1, "a task ran twice"
    # The Job row is the record: no Celery result row is written per job.
    assert not TaskResult.objects.filter(task_id__in=task_ids).exists()


def test_burst_of_300_uploads_across_two_workers_each_done_once(
    client, start_worker, wait_for_jobs, media_root, record_property
):
    photos = noise_photos(BURST)
    workers = [start_worker(), start_worker()]
    started = time.monotonic()

    for first in range(0, POSTED, PER_POST):
        post_photos(client, photos[first : first + PER_POST])
    queue_bulk(photos[POSTED:])
    ids = list(Job.objects.values_list("pk", flat=True))
    assert len(ids) == BURST

    jobs = wait_for_jobs(ids, timeout=BURST_SECONDS)
    record_property("burst_seconds", round(time.monotonic() - started, 1))
    assert_each_done_once(workers, jobs, media_root)
    assert {job.worker_name for job in jobs} == {worker.name for worker in workers}
    assert Counter(job.priority for job in jobs) == {
        Job.Priority.NORMAL: POSTED,
        Job.Priority.LOW: BURST - POSTED,
    }


def test_four_workers_write_to_sqlite_at_once_without_locking_errors(
    start_worker, wait_for_jobs, media_root
):
    if connection.vendor != "sqlite":
        pytest.skip("about SQLite's single writer")
    workers = [start_worker() for _ in range(4)]

    queue_bulk(noise_photos(100, seed=4))

    jobs = wait_for_jobs(list(Job.objects.values_list("pk", flat=True)))
    assert_each_done_once(workers, jobs, media_root)
    assert {job.worker_name for job in jobs} == {worker.name for worker in workers}
    for worker in workers:
        log = worker.log_path.read_text(errors="replace")
        assert "database is locked" not in log, worker.log()
        assert "OperationalError" not in log, worker.log()
