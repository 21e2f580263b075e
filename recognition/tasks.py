"""Celery tasks: thin wrappers that load a row, claim it, and call the pipeline."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import calibration, options, privacy, processing, retention, review, webhooks
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

# A job is started at most MAX_RETRIES + 1 times before it is dead-lettered.
MAX_RETRIES = 4

# Job priority -> (Celery queue, Redis message priority; 0 is served first).
ROUTES = {
    Job.Priority.HIGH: ("high", 0),
    Job.Priority.NORMAL: ("default", 3),
    Job.Priority.LOW: ("bulk", 6),
}


@worker_process_init.connect
def _preload_models(**kwargs: object) -> None:
    # Each prefork child loads the dlib models once, before its first job.
    load_models(options.detect_options().detector)


def dead_letter(job_id: int, reason: str) -> bool:
    """Dead-letter an unfinished job and send its webhook; False if already final."""
    if not Job.mark_dead(job_id, reason):
        return False
    logger.error("Job %s is dead: %s", job_id, reason)
    webhooks.schedule_for(job_id)
    return True


class JobTask(Task):
    """Dead-letters the job when the task fails for good (retries spent, time limit)."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:  # noqa: ANN001
        job_id = args[0] if args else kwargs.get("job_id")
        if isinstance(exc, TimeLimitExceeded):
            reason = f"Took longer than the hard time limit ({exc.args[0]} s)."
        else:
            reason = f"{type(exc).__name__}: {exc}"
        dead_letter(job_id, reason)


@shared_task(
    bind=True,
    base=JobTask,
    # The Job row is the record of a job (status, attempts, timings, error): a Celery
    # result row besides it (and its STARTED update) would cost two more writes a job.
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def process_job(self, job_id: int) -> dict:  # noqa: ANN001
    """Recognise the faces of one job; redelivery of a finished job is a no-op."""
    job, claimed = Job.claim_by_id(job_id, self.request.hostname or "worker")
    if job is None:
        logger.warning("Job %s no longer exists; nothing to do", job_id)
        return {"job": job_id, "status": "missing"}
    if not claimed:
        logger.info("Job %s is already %s; delivery ignored", job_id, job.status)
        return {"job": job_id, "status": job.status, "duplicate": True}
    if job.attempts > MAX_RETRIES + 1:
        # Delivered again and again without finishing: its worker keeps dying.
        dead_letter(job.pk, f"Started {job.attempts - 1} times without finishing.")
        return {"job": job_id, "status": Job.Status.DEAD}
    try:
        processing.process(job)
    except SoftTimeLimitExceeded:
        dead_letter(job.pk, "Took longer than the soft time limit.")
    if job.is_final:
        # This run recorded the outcome on `job` as well as in its row: the metrics
        # receiver (task_postrun) takes it from here instead of reading the row.
        self.request.finished_job = job
    else:
        job.refresh_from_db(fields=["status"])
    return {"job": job_id, "status": job.status}


def enqueue(job: Job) -> bool:
    """Publish the job's task now. False (and a note on the job) when Redis is away.

    A job that could not be published stays PENDING; requeue_stale_jobs sends it
    again once the broker answers.
    """
    queue, priority = ROUTES[Job.Priority(job.priority)]
    try:
        process_job.apply_async(
            (job.pk,), task_id=job.task_id or None, queue=queue, priority=priority
        )
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


def retry_dead(jobs: list[Job]) -> int:
    """Put dead jobs back on their queue; returns how many were revived."""
    revived = 0
    for job in jobs:
        if job.revive():
            enqueue(job)
            revived += 1
    return revived


@shared_task
def requeue_stale_jobs() -> dict:
    """Re-send jobs never queued (Redis was down) and, once, jobs stuck STARTED.

    A job STARTED for longer than the hard time limit lost its worker. It is sent
    again once; stuck a second time, it is dead-lettered.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    pending = Job.objects.filter(status=Job.Status.PENDING, error=QUEUE_DOWN_NOTE)
    stuck = Job.objects.filter(status=Job.Status.STARTED, start_time__lt=cutoff)
    requeued = dead = 0
    for job in pending[:500]:
        requeued += enqueue(job)
    for job in stuck[:500]:
        if job.stale_requeues:
            dead += dead_letter(job.pk, "Its worker vanished twice.")
        elif enqueue(job):
            Job.objects.filter(pk=job.pk).update(stale_requeues=1)
            requeued += 1
    return {"requeued": requeued, "dead": dead}


@shared_task
def purge_expired() -> dict:
    """Apply the retention settings: old jobs (rows, uploads, results) go, and so do
    enrolment photos when only encodings are to be kept."""
    outcome = retention.purge_expired_jobs(settings.FACESITE_RETENTION_DAYS)
    outcome["enrolment_photos"] = privacy.drop_enrolment_photos()
    return outcome


@shared_task
def purge_temp_files() -> dict:
    return retention.purge_temp_files(settings.FACESITE_TEMP_RETENTION_HOURS)


@shared_task(bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> dict:  # noqa: ANN001
    """POST a finished job to its callback URL; retried with backoff on failure."""
    countdown = webhooks.deliver(delivery_id)
    if countdown is not None:
        raise self.retry(countdown=countdown)
    return {"delivery": delivery_id}


@shared_task
def recalibrate() -> dict:
    """Follow the gallery: re-estimate the tolerance and apply it when it changed."""
    if not settings.FACESITE_AUTO_CALIBRATE:
        return {"applied": False, "reason": "FACESITE_AUTO_CALIBRATE is off"}
    applied = calibration.recalibrate(settings.FACESITE_TARGET_FAR)
    return {"applied": applied is not None, "tolerance": applied and applied.tolerance}


@shared_task(acks_late=True, autoretry_for=TRANSIENT_ERRORS, max_retries=3)
def rematch_unknown_faces() -> dict:
    """Name stored "Unknown" faces that match someone enrolled since."""
    return {"identified": review.rematch_unknown_faces()}


def schedule_rematch(delay: float = 10.0) -> None:
    """Queue one rematch shortly; enrolling a folder of photos queues it once."""
    try:
        if cache.add("rematch-scheduled", True, timeout=delay):
            rematch_unknown_faces.apply_async(countdown=delay, queue="bulk", priority=6)
    except Exception as exc:  # noqa: BLE001 - the next enrolment or run tries again
        logger.warning("Could not schedule late identification: %s", exc)
