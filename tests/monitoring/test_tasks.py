from __future__ import annotations

import pytest
from django.db import connection

from monitoring.tasks import maintain_database


@pytest.mark.django_db(transaction=True)
def test_database_maintenance_runs_outside_a_transaction():
    assert maintain_database() == {"vendor": connection.vendor}
