"""Retention: removing old uploads, result images, job rows and temporary files."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from .models import Job

logger = logging.getLogger(__name__)


def purge_expired_jobs(days: int) -> dict:
    """Delete finished jobs created more than `days` ago (their files go with them)."""
    cutoff = timezone.now() - timedelta(days=days)
    expired = Job.objects.filter(created_at__lt=cutoff, status__in=Job.FINAL_STATUSES)
    rows = expired.delete()[1].get(Job._meta.label, 0)
    if rows:
        logger.info("Retention: removed %s jobs and their files", rows)
    return {"jobs": rows}


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
