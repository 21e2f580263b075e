"""Retention: removing old uploads, result images, job rows and temporary files."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from .models import Job

logger = logging.getLogger(__name__)


def delete_job_files(job: Job) -> int:
    """Delete a job's upload and result image from storage; returns files removed."""
    removed = 0
    for name in (job.image.name, job.result_path):
        if name and default_storage.exists(name):
            default_storage.delete(name)
            removed += 1
    return removed


def purge_expired_jobs(days: int) -> dict:
    """Delete finished jobs created more than `days` ago, with their files."""
    cutoff = timezone.now() - timedelta(days=days)
    expired = Job.objects.filter(created_at__lt=cutoff, status__in=Job.FINAL_STATUSES)
    files = rows = 0
    for job in expired.only("pk", "image", "result_path").iterator(chunk_size=500):
        files += delete_job_files(job)
        rows += Job.objects.filter(pk=job.pk).delete()[0]
    if rows:
        logger.info("Retention: removed %s jobs and %s files", rows, files)
    return {"jobs": rows, "files": files}


def purge_temp_files(hours: int, folder: str = "temp") -> dict:
    """Delete files in the temp folder last modified more than `hours` ago."""
    if not default_storage.exists(folder):
        return {"files": 0}
    cutoff = timezone.now() - timedelta(hours=hours)
    removed = 0
    for name in default_storage.listdir(folder)[1]:
        path = f"{folder}/{name}"
        if default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
            removed += 1
    return {"files": removed}
