"""Workers killed in the middle of a job: the job still ends with one result.

The photo is the astronaut tiled 6 x 6 (3072 px, dozens of faces) and the worker
detects at full size, so one job takes seconds: long enough to be caught running.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from facesite import celery_app
from recognition.models import Job
from tests.integration.conftest import SLOW, queue_job, result_files

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = 5


def running_pid(worker_name: str, task_id: str) -> int:
    """The pool process that runs the task, as the worker itself reports it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        active = celery_app.control.inspect([worker_name], timeout=2).active() or {}
        for task in active.get(worker_name, []):
            if task["id"] == task_id:
                return task["worker_pid"]
    pytest.fail(f"task {task_id} never showed as active on {worker_name}")


def test_pool_process_killed_mid_job_is_redelivered_once(
    start_worker, wait_for_job, wait_for_task_success, crowd_jpeg, media_root
):
    worker = start_worker(concurrency=1, **SLOW)
    job = wait_for_job(queue_job(crowd_jpeg), statuses=(Job.Status.STARTED,), poll=0.05)
    pid = running_pid(worker.name, job.task_id)
    assert pid in [child.pid for child in worker.pool_processes()]

    os.kill(pid, signal.SIGKILL)

    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.STARTED, 1), "killed too late"
    job = wait_for_job(job)
    assert job.status == Job.Status.SUCCESS, job.error
    assert job.attempts == 2
    assert job.face_count > 0
    assert Job.objects.filter(task_id=job.task_id).count() == 1
    assert result_files(media_root) == [f"{job.pk}.jpg"]
    assert worker.is_alive()
    assert pid not in [child.pid for child in worker.pool_processes()]
    # The killed run logged nothing; the redelivered one succeeded.
    assert wait_for_task_success(worker, job.task_id) == ["succeeded"]


def test_job_of_a_killed_worker_is_redelivered_after_visibility_timeout(
    start_worker, wait_for_job, crowd_jpeg, media_root
):
    first = start_worker(concurrency=1, **SLOW)
    job = wait_for_job(queue_job(crowd_jpeg), statuses=(Job.Status.STARTED,), poll=0.05)

    first.kill()
    # Redis hands an unacknowledged message out again once it is older than the
    # visibility timeout; a worker sweeps for such messages when it starts.
    time.sleep(VISIBILITY_TIMEOUT + 1)
    second = start_worker(
        concurrency=1, CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT)
    )

    job = wait_for_job(job)
    assert job.status == Job.Status.SUCCESS, job.error
    assert (job.attempts, job.worker_name) == (2, second.name)
    assert Job.objects.filter(task_id=job.task_id).count() == 1
    assert result_files(media_root) == [f"{job.pk}.jpg"]
