"""A worker keeps its database connection from job to job, as Django keeps one from
request to request (CONN_MAX_AGE), instead of Celery's default of a new one per task."""

from __future__ import annotations

import time

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import (
    beat_embedded_init,
    task_postrun,
    task_prerun,
    worker_process_init,
)
from django.db import connection

from facesite.celery import app
from recognition.models import Job
from recognition.tasks import process_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker_fixup():
    """Celery's Django fixup, as a worker process installs it."""
    fixup = DjangoWorkerFixup(app).install()
    yield fixup
    task_prerun.disconnect(fixup.on_task_prerun)
    task_postrun.disconnect(fixup.on_task_postrun)
    worker_process_init.disconnect(fixup.on_worker_process_init)
    beat_embedded_init.disconnect(fixup.close_database)


def run_task_signals() -> None:
    # What a worker sends around each task (the request is not an eager one).
    task_prerun.send(sender=process_job, task_id="t", task=process_job)
    Job.objects.count()  # the task's queries
    task_postrun.send(sender=process_job, task_id="t", task=process_job)


def test_the_connection_is_kept_from_task_to_task(worker_fixup):
    Job.objects.count()
    first = connection.connection
    assert first is not None
    for _ in range(3):
        run_task_signals()
    assert connection.connection is first


def test_a_connection_older_than_conn_max_age_is_replaced(worker_fixup):
    Job.objects.count()
    first = connection.connection
    connection.close_at = time.monotonic() - 1  # CONN_MAX_AGE has passed
    run_task_signals()
    assert connection.connection is not None
    assert connection.connection is not first


def test_a_connection_that_failed_and_no_longer_works_is_replaced(worker_fixup):
    if connection.vendor != "postgresql":
        pytest.skip("Django asks only a server connection whether it still works")
    Job.objects.count()
    first = connection.connection
    connection.errors_occurred = True
    first.close()  # the server went away under it
    run_task_signals()
    assert connection.connection is not first
    assert Job.objects.count() == 0
