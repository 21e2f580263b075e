"""Celery beat's schedule in the database, and each maintenance task run by a worker.

The unit tests call the task functions directly; here a real `celery worker` runs
them from the queue, on rows and files made for the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from celery import Task
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry
from django_celery_results.models import TaskResult

from facesite import celery_app
from monitoring.models import WorkerSnapshot
from monitoring.tasks import maintain_database, snapshot_workers
from recognition.models import Job
from recognition.tasks import (
    enqueue,
    purge_expired,
    purge_temp_files,
    requeue_stale_jobs,
)
from recognition.uploads import create_job
from tests.conftest import jpeg_bytes
from tests.integration.conftest import ROOT, process_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BEAT_SECONDS = 90
TASK_SECONDS = 90


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_bytes(np.random.default_rng(5).integers(0, 256, (64, 64, 3), np.uint8))


def run(task: Task | str) -> object:
    """Queue the task for the worker and wait for what it returns."""
    result = celery_app.send_task(task) if isinstance(task, str) else task.apply_async()
    return result.get(timeout=TASK_SECONDS)


# --- Beat: the schedule ends up in the database -----------------------------------


def wait_for_beat_entries(beat: subprocess.Popen, log: Path, names: set[str]) -> None:
    deadline = time.monotonic() + BEAT_SECONDS
    while time.monotonic() < deadline:
        if beat.poll() is not None:
            pytest.fail(
                f"celery beat exited with {beat.returncode}:\n{log.read_text()}"
            )
        found = set(PeriodicTask.objects.values_list("name", flat=True))
        if names <= found:
            return
        time.sleep(0.5)
    pytest.fail(f"beat wrote {found}, not all of {names}:\n{log.read_text()}")


def test_beat_puts_every_entry_in_the_database_each_expiring_before_its_next_run(
    transactional_db, broker_url, settings, tmp_path
):
    schedule = settings.CELERY_BEAT_SCHEDULE
    log = tmp_path / "beat.log"
    args = [
        sys.executable, "-m", "celery", "-A", "facesite", "beat", "--loglevel", "INFO",
        "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
        "--pidfile", str(tmp_path / "beat.pid"),
    ]  # fmt: skip
    with log.open("wb") as output:
        beat = subprocess.Popen(
            args,
            cwd=ROOT,
            env=process_env(broker_url, settings),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_beat_entries(beat, log, set(schedule))
    finally:
        beat.terminate()
        beat.wait(timeout=30)

    for name, entry in schedule.items():
        task = PeriodicTask.objects.get(name=name)
        every = task.schedule.run_every.total_seconds()
        assert (task.task, task.enabled) == (entry["task"], True)
        assert every == entry["schedule"]
        # What beat passes to apply_async when it sends the task.
        expires = ModelEntry(task, app=celery_app).options.get("expires")
        assert expires, f"{name} never expires"
        assert 0 < expires < every, f"{name}: expires {expires} s, every {every} s"


# --- Each maintenance task, through the worker --------------------------------------


def stuck_job(data: bytes, stale_requeues: int = 0) -> Job:
    """A job STARTED longer ago than the hard time limit, by a worker now gone."""
    job = create_job(data, "stuck.jpg", uuid.uuid4())
    seconds = django_settings.CELERY_TASK_TIME_LIMIT + 120
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.STARTED,
        start_time=timezone.now() - timedelta(seconds=seconds),
        attempts=1,
        worker_name="vanished@nowhere",
        stale_requeues=stale_requeues,
    )
    return job


def test_requeue_stale_jobs_sends_a_stuck_job_once_and_it_finishes(
    start_worker, wait_for_job, photo
):
    worker = start_worker()
    lost, lost_twice = stuck_job(photo), stuck_job(photo, stale_requeues=1)

    assert run(requeue_stale_jobs) == {"requeued": 1, "dead": 1}

    lost = wait_for_job(lost)
    assert (lost.status, lost.attempts, lost.stale_requeues) == (
        Job.Status.SUCCESS,
        2,
        1,
    )
    assert lost.worker_name == worker.name
    lost_twice.refresh_from_db()
    assert lost_twice.status == Job.Status.DEAD
    assert lost_twice.error == "Its worker vanished twice."
    assert run(requeue_stale_jobs) == {"requeued": 0, "dead": 0}


def old_job(data: bytes, days: float, status: str) -> Job:
    """A job created `days` ago, with its result image when it succeeded."""
    job = create_job(data, "old.jpg", uuid.uuid4())
    result_path = ""
    if status == Job.Status.SUCCESS:
        result_path = default_storage.save(f"results/{job.pk}.jpg", ContentFile(data))
    Job.objects.filter(pk=job.pk).update(
        status=status,
        result_path=result_path,
        created_at=timezone.now() - timedelta(days=days),
    )
    job.refresh_from_db()
    return job


def test_purge_expired_removes_old_finished_jobs_with_their_files(
    start_worker, photo, media_root
):
    start_worker()
    days = django_settings.FACESITE_RETENTION_DAYS
    expired = [
        old_job(photo, days + 1, Job.Status.SUCCESS),
        old_job(photo, days + 1, Job.Status.FAILURE),
        old_job(photo, days + 1, Job.Status.DEAD),
    ]
    kept = [
        old_job(photo, days + 1, Job.Status.PENDING),  # not finished: kept
        old_job(photo, days - 1, Job.Status.SUCCESS),
    ]

    assert run(purge_expired) == {"jobs": 3, "enrolment_photos": 0}

    assert set(Job.objects.values_list("pk", flat=True)) == {job.pk for job in kept}
    for job in expired:
        assert not (media_root / job.image.name).exists()
        assert not job.result_path or not (media_root / job.result_path).exists()
    for job in kept:
        assert (media_root / job.image.name).exists()
    assert (media_root / kept[1].result_path).exists()
    assert run(purge_expired) == {"jobs": 0, "enrolment_photos": 0}


def test_purge_temp_files_removes_only_old_ones(start_worker, media_root):
    start_worker()
    temp = media_root / "temp"
    temp.mkdir(parents=True)
    old, new = temp / "old.part", temp / "new.part"
    old.write_bytes(b"partial upload")
    new.write_bytes(b"partial upload")
    long_ago = time.time() - (django_settings.FACESITE_TEMP_RETENTION_HOURS + 1) * 3600
    os.utime(old, (long_ago, long_ago))

    assert run(purge_temp_files) == {"files": 1}

    assert sorted(path.name for path in temp.iterdir()) == ["new.part"]
    assert run(purge_temp_files) == {"files": 0}


def test_backend_cleanup_removes_expired_task_results(start_worker):
    start_worker()
    for task_id in ("expired", "fresh"):
        TaskResult.objects.create(task_id=task_id, status="SUCCESS", result="null")
    expired_at = timezone.now() - timedelta(seconds=celery_app.conf.result_expires + 60)
    TaskResult.objects.filter(task_id="expired").update(date_done=expired_at)

    run("celery.backend_cleanup")

    remaining = set(TaskResult.objects.values_list("task_id", flat=True))
    assert "expired" not in remaining
    assert "fresh" in remaining


HAS_STATISTICS = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
JOB_STATISTICS = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'recognition_job'"
LAST_ANALYZE = (
    "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'recognition_job'"
)


def sqlite_state() -> tuple[int, int]:
    """Free pages in the file, and rows of ANALYZE's statistics for the job table."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA freelist_count")
        free = cursor.fetchone()[0]
        cursor.execute(HAS_STATISTICS)
        if not cursor.fetchone()[0]:
            return free, 0
        cursor.execute(JOB_STATISTICS)
        return free, cursor.fetchone()[0]


def make_free_pages_and_no_statistics() -> None:
    """300 rows of 8 kB, all but 10 deleted again; ANALYZE's statistics dropped."""
    rows = [
        Job(filename=f"{n}.jpg", image="x.jpg", error="x" * 8000) for n in range(300)
    ]
    kept = Job.objects.bulk_create(rows)[9].pk
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM recognition_job WHERE id > %s", [kept])
        cursor.execute(HAS_STATISTICS)
        if cursor.fetchone()[0]:
            cursor.execute("DELETE FROM sqlite_stat1")


def last_analyze() -> datetime | None:
    with connection.cursor() as cursor:
        cursor.execute(LAST_ANALYZE)
        return cursor.fetchone()[0]


def test_maintain_database_vacuums_and_analyzes(start_worker):
    start_worker()
    if connection.vendor == "sqlite":
        make_free_pages_and_no_statistics()
        free, statistics = sqlite_state()
        assert free > 0 and statistics == 0

        assert run(maintain_database) == {"vendor": "sqlite"}

        free, statistics = sqlite_state()
        assert free == 0 and statistics > 0
    else:
        before = timezone.now()
        assert run(maintain_database) == {"vendor": "postgresql"}
        # Statistics reach pg_stat_* when the worker's session reports them.
        deadline = time.monotonic() + 30
        while (last_analyze() or before) <= before and time.monotonic() < deadline:
            time.sleep(0.5)
        assert last_analyze() and last_analyze() > before


def test_snapshot_workers_records_the_live_worker_and_queue_depths(start_worker, photo):
    worker = start_worker(queues="high,default")  # nobody takes the bulk queue
    for _ in range(3):
        assert enqueue(create_job(photo, "bulk.jpg", uuid.uuid4(), Job.Priority.LOW))

    answer = run(snapshot_workers)

    snapshot = WorkerSnapshot.objects.get()
    assert snapshot.broker_ok
    assert worker.name in snapshot.workers
    assert snapshot.workers_online == len(snapshot.workers)
    assert snapshot.queue_depths == {"high": 0, "default": 0, "bulk": 3}
    assert answer == {
        "workers_online": snapshot.workers_online,
        "queue_depths": snapshot.queue_depths,
    }
