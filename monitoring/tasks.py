"""Scheduled maintenance run by Celery beat."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import connection

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
