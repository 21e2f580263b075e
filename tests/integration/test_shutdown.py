"""Stopping a worker while it runs a job: the job finishes first (warm shutdown)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
import uuid

import psutil
import pytest
from django.utils import timezone

from facesite import celery_app
from recognition.models import Job
from tests.integration.conftest import (
    ROOT,
    SLOW,
    WORKER_READY_SECONDS,
    process_env,
    queue_job,
    result_files,
    worker_command,
    worker_queues,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STOP_SECONDS = 180


def assert_finished_once_after(job: Job, signalled_at, media_root) -> None:
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error
    assert job.attempts == 1
    assert job.end_time > signalled_at, "the job had finished before the signal"
    assert result_files(media_root) == [f"{job.pk}.jpg"]


def test_sigterm_to_the_worker_lets_its_running_job_finish(
    start_worker, wait_for_job, crowd_jpeg, media_root
):
    worker = start_worker(**SLOW)
    job = wait_for_job(queue_job(crowd_jpeg), statuses=(Job.Status.STARTED,), poll=0.05)

    signalled_at = timezone.now()
    worker.process.send_signal(signal.SIGTERM)

    assert worker.process.wait(timeout=STOP_SECONDS) == 0
    assert_finished_once_after(job, signalled_at, media_root)
    assert "worker: Warm shutdown" in worker.log()


def wait_for_ping(name: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + WORKER_READY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        if any(name in reply for reply in celery_app.control.ping(timeout=1)):
            return
    pytest.fail(f"the worker under bin/supervise never answered:\n{log.read_text()}")


def kill_tree(process: subprocess.Popen) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        tree = psutil.Process(process.pid)
        for member in [tree, *tree.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
    process.wait(timeout=10)


def test_ctrl_c_on_bin_supervise_lets_the_running_job_finish(
    transactional_db, broker_url, settings, wait_for_job, crowd_jpeg, media_root
):
    """bin/run's supervisor, as `make run` starts it, stopped by Ctrl-C (SIGINT)."""
    name = f"supervised-{uuid.uuid4().hex[:8]}@test"
    procfile = media_root.parent / "Procfile"
    worker = " ".join(worker_command(name, 1, worker_queues()) + ["--without-mingle"])
    procfile.write_text(f"worker: {worker}\n")
    log = media_root.parent / "supervise.log"
    with log.open("wb") as output:
        supervisor = subprocess.Popen(
            [str(ROOT / "bin" / "supervise"), str(procfile)],
            cwd=ROOT,
            env=process_env(broker_url, settings, **SLOW),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_ping(name, supervisor, log)
        job = queue_job(crowd_jpeg)
        wait_for_job(job, statuses=(Job.Status.STARTED,), poll=0.05)

        signalled_at = timezone.now()
        supervisor.send_signal(signal.SIGINT)

        assert supervisor.wait(timeout=STOP_SECONDS) == 128 + signal.SIGINT
    finally:
        kill_tree(supervisor)  # left running only when the test failed
    assert_finished_once_after(job, signalled_at, media_root)
    output = log.read_text()
    assert "worker: Warm shutdown" in output
    assert "worker stopped (rc=0)" in output
