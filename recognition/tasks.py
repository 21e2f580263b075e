"""Celery tasks: thin wrappers that load a row, claim it, and call the pipeline."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import options, processing
from .models import Job
from .pipeline import load_models

logger = logging.getLogger(__name__)

QUEUE_DOWN_NOTE = (
    "The queue (Redis) is unavailable; the job will be queued when it is back."
)

# Errors worth another try: the database was busy or away, Redis dropped, storage slow.
TRANSIENT_ERRORS = (
    OperationalError,
    BrokerError,
    RedisConnectionError,
    RedisTimeoutError,
    TimeoutError,
    ConnectionError,
)


@worker_process_init.connect
def _preload_models(**kwargs: object) -> None:
    # Each prefork child loads the dlib models once, before its first job.
    load_models(options.detect_options().detector)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def process_job(self, job_id: int) -> dict:  # noqa: ANN001
    """Recognise the faces of one job; redelivery of a finished job is a no-op."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        logger.warning("Job %s no longer exists; nothing to do", job_id)
        return {"job": job_id, "status": "missing"}
    if not job.claim(self.request.hostname or "worker"):
        logger.info("Job %s is already %s; delivery ignored", job_id, job.status)
        return {"job": job_id, "status": job.status, "duplicate": True}
    processing.process(job)
    return {"job": job_id, "status": job.status}


def enqueue(job: Job) -> bool:
    """Publish the job's task now. False (and a note on the job) when Redis is away.

    A job that could not be published stays PENDING; requeue_stale_jobs sends it
    again once the broker answers.
    """
    try:
        process_job.apply_async((job.pk,), task_id=job.task_id or None)
    except (BrokerError, RedisConnectionError, RedisTimeoutError, OSError) as exc:
        logger.error("Could not queue job %s: %s", job.pk, exc)
        Job.objects.filter(pk=job.pk, status=Job.Status.PENDING).update(
            error=QUEUE_DOWN_NOTE
        )
        return False
    if job.error == QUEUE_DOWN_NOTE:
        Job.objects.filter(pk=job.pk, error=QUEUE_DOWN_NOTE).update(error="")
    return True


def enqueue_on_commit(job: Job) -> None:
    """Publish after the transaction that created the job commits, never before."""
    transaction.on_commit(lambda: enqueue(job))


@shared_task
def requeue_stale_jobs() -> dict:
    """Re-send jobs never queued (Redis was down) or stuck STARTED too long."""
    now = timezone.now()
    started_cutoff = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    pending = Job.objects.filter(status=Job.Status.PENDING, error=QUEUE_DOWN_NOTE)
    stale = Job.objects.filter(
        status=Job.Status.STARTED, start_time__lt=started_cutoff, attempts__lt=2
    )
    count = 0
    for job in list(pending[:500]) + list(stale[:500]):
        count += enqueue(job)
    return {"requeued": count}
