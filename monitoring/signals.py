"""Celery signal receivers: workers record each finished job's metrics.

Connected in MonitoringConfig.ready(), so recognition's task code needs no call of
its own. task_postrun fires in the pool process after every run of the task,
whatever its outcome (success, failure, dead letter after the last retry).
"""

from __future__ import annotations

import logging

from celery.signals import task_postrun

from recognition.models import Job

from . import recorder

logger = logging.getLogger(__name__)

PROCESS_JOB = "recognition.tasks.process_job"


def record_finished_job(
    sender: object = None,
    args: tuple | None = None,
    kwargs: dict | None = None,
    **extra: object,
) -> None:
    if getattr(sender, "name", None) != PROCESS_JOB:
        return
    # Also after a duplicate delivery: if the worker that finished the job died
    # before recording it, this is the only chance; record_job counts a finish once.
    job_id = args[0] if args else (kwargs or {}).get("job_id")
    job = getattr(getattr(sender, "request", None), "finished_job", None)
    if job is not None and job.pk == job_id:
        recorder.record_job(job)
        return
    try:
        job = Job.objects.filter(pk=job_id).first()
    except Exception:  # noqa: BLE001 - metrics must never break a worker
        logger.warning("Job %s not read for metrics", job_id, exc_info=True)
        return
    if job is not None:
        recorder.record_job(job)


def connect() -> None:
    task_postrun.connect(record_finished_job, dispatch_uid="monitoring-record-job")
