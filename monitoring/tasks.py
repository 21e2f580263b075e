"""Scheduled maintenance run by Celery beat."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db import connection
from django.utils import timezone

from . import metrics, queues
from .models import WorkerSnapshot

logger = logging.getLogger(__name__)


@shared_task
def maintain_database() -> dict:
    """VACUUM and ANALYZE on SQLite, ANALYZE on PostgreSQL."""
    vendor = connection.vendor
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute("VACUUM")
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif vendor == "postgresql":
            cursor.execute("ANALYZE")
    logger.info("Database maintenance done on %s", vendor)
    return {"vendor": vendor}


@shared_task
def snapshot_workers(keep_days: int = 7) -> dict:
    """Record which workers answer and how deep the queues are; drop old records."""
    answer = metrics.ping_workers()
    depths = queues.queue_depths()
    row = WorkerSnapshot.objects.create(
        broker_ok=answer["broker"],
        workers=answer["workers"],
        workers_online=len(answer["workers"]),
        queue_depths=depths or {},
        unacked=queues.unacked_count(),
        error=answer["error"],
    )
    cutoff = timezone.now() - timedelta(days=keep_days)
    WorkerSnapshot.objects.filter(timestamp__lt=cutoff).delete()
    return {"workers_online": row.workers_online, "queue_depths": row.queue_depths}
