"""Faults around a real worker: Redis restarted, a busy database, a broken disk.

Every job still ends in exactly one final state that the operator can see.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from facesite import celery_app
from monitoring.queues import queue_depths, queue_keys
from recognition.models import Job
from tests.conftest import jpeg_bytes, point_celery_at
from tests.integration.conftest import (
    SLOW,
    RedisServer,
    database_url,
    queue_job,
    result_files,
    using_redis,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LOCK_WAIT_SECONDS = 120


@pytest.fixture(scope="module")
def small_jpeg(astronaut_rgb) -> bytes:
    return jpeg_bytes(astronaut_rgb[::4, ::4])


# --- Redis stopped and started again with jobs queued ----------------------------


@pytest.fixture
def broker_url(durable_redis: RedisServer, settings) -> Iterator[str]:
    """This module's workers use a Redis with AOF, which a test may restart."""
    with using_redis(durable_redis, settings) as url:
        yield url


def test_jobs_queued_before_a_redis_restart_all_finish_once(
    durable_redis, broker_url, wait_for_jobs, small_jpeg, media_root, start_worker
):
    jobs = [queue_job(small_jpeg, f"photo-{n}.jpg") for n in range(10)]
    assert sum(queue_depths().values()) == 10

    durable_redis.shutdown()
    durable_redis.start()  # same port and folder: it reads back its AOF
    point_celery_at(broker_url)  # drop the connections to the stopped server
    assert sum(queue_depths().values()) == 10
    start_worker(concurrency=2)

    done = wait_for_jobs([job.pk for job in jobs])
    assert [job.status for job in done] == [Job.Status.SUCCESS] * 10
    assert [job.attempts for job in done] == [1] * 10
    assert result_files(media_root) == sorted(f"{job.pk}.jpg" for job in done)


# --- A busy database: a transient error, retried with backoff --------------------


@contextlib.contextmanager
def row_write_lock(job: Job) -> Iterator[None]:
    """Hold a lock that stops any other connection from updating the job's row.

    SQLite: the database's write lock (readers go on, in WAL mode). PostgreSQL: the
    row's lock, as another transaction updating it would hold.
    """
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        locker = sqlite3.connect(db["NAME"], timeout=30, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
    else:
        locker = psycopg.connect(database_url(db))
        locker.execute(
            "SELECT id FROM recognition_job WHERE id = %s FOR UPDATE", [job.pk]
        )
    try:
        yield
    finally:
        locker.rollback()
        locker.close()


def retry_in_redis(server: RedisServer, task_id: str) -> bool:
    """True once a retry of the task (its message with retries >= 1) is in Redis.

    It stays there, queued or delivered but unacknowledged (acks_late), until a
    worker has finished it.
    """
    with server.client() as client:
        payloads = client.hvals("unacked")  # [message, exchange, routing key]
        for queue in celery_app.conf.task_queues:
            for key in queue_keys(queue.name):
                payloads += client.lrange(key, 0, -1)
    for payload in payloads:
        message = json.loads(payload)
        headers = (message[0] if isinstance(message, list) else message)["headers"]
        if headers["id"] == task_id and (headers.get("retries") or 0) >= 1:
            return True
    return False


def wait_for_retry(server: RedisServer, task_id: str) -> None:
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while time.monotonic() < deadline:
        if retry_in_redis(server, task_id):
            return
        time.sleep(0.05)
    pytest.fail(f"No retry of {task_id} within {LOCK_WAIT_SECONDS} s")


def busy_database_env() -> dict[str, str]:
    """Worker settings that make a write give up soon on a locked row or database."""
    if connection.vendor == "sqlite":
        return {"SQLITE_BUSY_TIMEOUT": "1"}
    url = database_url(connection.settings_dict)
    return {"DATABASE_URL": f"{url}?options=-c%20lock_timeout%3D1000"}


def test_busy_database_is_retried_with_backoff_then_the_job_succeeds(
    durable_redis,
    start_worker,
    wait_for_job,
    wait_for_task_success,
    crowd_jpeg,
    media_root,
):
    worker = start_worker(**SLOW, **busy_database_env())
    job = wait_for_job(queue_job(crowd_jpeg), statuses=(Job.Status.STARTED,), poll=0.05)

    with row_write_lock(job):
        job.refresh_from_db()
        assert (job.status, job.attempts) == (Job.Status.STARTED, 1), "locked too late"
        # The pipeline runs, recording its result fails on the lock, the task
        # publishes its retry; only then is the lock given back.
        wait_for_retry(durable_redis, job.task_id)

    job = wait_for_job(job)
    assert job.status == Job.Status.SUCCESS, job.error
    assert job.attempts == 2
    assert result_files(media_root) == [f"{job.pk}.jpg"]
    assert wait_for_task_success(worker, job.task_id) == ["retry", "succeeded"]
    log = worker.log(lines=10_000)
    assert "OperationalError" in log
    assert "database is locked" in log or "lock timeout" in log
    assert f"process_job[{job.task_id}] retry: Retry in" in log


# --- A fault that never goes away: dead letter, then retried by the operator -----


def test_job_that_always_fails_is_dead_then_retry_brings_it_back(
    start_worker, wait_for_job, admin_client, small_jpeg, media_root
):
    start_worker()
    media_root.mkdir(parents=True, exist_ok=True)
    (media_root / "results").write_bytes(b"")  # a file where the folder should be
    first, second = queue_job(small_jpeg, "first.jpg"), queue_job(small_jpeg, "2.jpg")

    for job in (first, second):
        job = wait_for_job(job)
        assert (job.status, job.attempts) == (Job.Status.DEAD, 1)
        assert job.error.startswith("FileExistsError: ")
        assert "results exists and is not a directory" in job.error

    (media_root / "results").unlink()
    out = io.StringIO()
    call_command("retry_dead", str(first.pk), stdout=out)
    response = admin_client.post(
        reverse("admin:recognition_job_changelist"),
        {"action": "retry_dead_jobs", "_selected_action": [second.pk]},
    )

    assert "1 dead job(s) sent back to the queue." in out.getvalue()
    assert response.status_code == 302
    for job in (first, second):
        old_task_id = job.task_id
        job = wait_for_job(job)
        assert (job.status, job.attempts, job.error) == (Job.Status.SUCCESS, 1, "")
        assert job.task_id != old_task_id
    assert result_files(media_root) == sorted([f"{first.pk}.jpg", f"{second.pk}.jpg"])
