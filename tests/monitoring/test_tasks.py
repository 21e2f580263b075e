from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring.models import WorkerSnapshot
from monitoring.tasks import maintain_database, snapshot_workers


@pytest.mark.django_db(transaction=True)
def test_database_maintenance_runs_outside_a_transaction():
    assert maintain_database() == {"vendor": connection.vendor}


@pytest.mark.django_db
def test_worker_snapshot_records_an_unreachable_broker(broker_down):
    old = WorkerSnapshot.objects.create(broker_ok=True, workers_online=1)
    WorkerSnapshot.objects.filter(pk=old.pk).update(
        timestamp=timezone.now() - timedelta(days=30)
    )
    assert snapshot_workers() == {"workers_online": 0, "queue_depths": {}}
    row = WorkerSnapshot.objects.get()
    assert (row.broker_ok, row.workers, row.unacked) == (False, [], None)
    assert row.error
