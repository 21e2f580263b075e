from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import pytest
from celery.exceptions import TimeLimitExceeded
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from recognition.models import Job
from recognition.retention import purge_expired_jobs, purge_temp_files
from recognition.tasks import MAX_RETRIES, process_job, requeue_stale_jobs
from recognition.uploads import create_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(astronaut_jpeg):
    return create_job(astronaut_jpeg, "a.jpg", uuid.uuid4())


def test_a_final_task_failure_dead_letters_the_job(job):
    job.claim("w1")
    process_job.on_failure(TimeLimitExceeded(300), job.task_id, (job.pk,), {}, None)
    job.refresh_from_db()
    assert job.status == Job.Status.DEAD
    assert job.error == "Took longer than the hard time limit (300 s)."
    assert job.attempts == 1


def test_a_finished_job_is_never_dead_lettered(job):
    job.claim("w1")
    job.mark_failed("bad photo")
    process_job.on_failure(RuntimeError("late"), job.task_id, (job.pk,), {}, None)
    job.refresh_from_db()
    assert (job.status, job.error) == (Job.Status.FAILURE, "bad photo")


def test_a_job_whose_workers_keep_dying_is_dead_lettered(job):
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.STARTED, attempts=MAX_RETRIES + 1
    )
    assert process_job(job.pk)["status"] == Job.Status.DEAD
    job.refresh_from_db()
    assert job.status == Job.Status.DEAD
    assert "without finishing" in job.error


def test_revive_puts_a_dead_job_back_to_pending_with_a_new_task_id(job):
    job.claim("w1")
    Job.mark_dead(job.pk, "boom")
    job.refresh_from_db()
    old_task = job.task_id
    assert job.revive()
    assert (job.status, job.attempts, job.error) == (Job.Status.PENDING, 0, "")
    assert job.task_id != old_task
    assert not job.revive()  # only a dead job can be revived
    process_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS


def test_a_job_stuck_started_twice_is_dead_lettered(job, broker_down):
    long_ago = timezone.now() - timedelta(hours=2)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.STARTED, start_time=long_ago)
    # Redis is down: it cannot be re-sent, so it is left for the next run.
    assert requeue_stale_jobs() == {"requeued": 0, "dead": 0}
    job.refresh_from_db()
    assert (job.status, job.stale_requeues) == (Job.Status.STARTED, 0)
    # Already re-sent once and stuck again: dead.
    Job.objects.filter(pk=job.pk).update(stale_requeues=1)
    assert requeue_stale_jobs() == {"requeued": 0, "dead": 1}
    job.refresh_from_db()
    assert job.status == Job.Status.DEAD
    assert "vanished" in job.error


def test_retention_removes_old_finished_jobs_and_their_files(
    astronaut_jpeg, django_capture_on_commit_callbacks
):
    old = create_job(astronaut_jpeg, "old.jpg", uuid.uuid4())
    old.claim("w")
    process_job(old.pk)  # the task recognises it and stores a result image
    old.refresh_from_db()
    recent = create_job(astronaut_jpeg, "new.jpg", uuid.uuid4())
    stuck = create_job(astronaut_jpeg, "pending.jpg", uuid.uuid4())
    long_ago = timezone.now() - timedelta(days=40)
    Job.objects.filter(pk__in=[old.pk, stuck.pk]).update(created_at=long_ago)
    files = [old.image.name, old.result_path]
    assert all(default_storage.exists(name) for name in files)

    with django_capture_on_commit_callbacks(execute=True):
        assert purge_expired_jobs(days=30) == {"jobs": 1}
    assert not Job.objects.filter(pk=old.pk).exists()
    assert not any(default_storage.exists(name) for name in files)
    # A recent job and an unfinished one are kept.
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, stuck.pk}
    assert purge_expired_jobs(days=30) == {"jobs": 0}


def test_temp_files_older_than_the_limit_are_removed():
    old = default_storage.save("temp/old.bin", ContentFile(b"x"))
    new = default_storage.save("temp/new.bin", ContentFile(b"y"))
    two_days_ago = time.time() - 2 * 86400
    os.utime(default_storage.path(old), (two_days_ago, two_days_ago))
    assert purge_temp_files(hours=24) == {"files": 1}
    assert not default_storage.exists(old)
    assert default_storage.exists(new)
