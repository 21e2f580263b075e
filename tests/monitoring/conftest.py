"""A Redis of the monitoring tests' own, for the metrics workers record, and the
integration fixtures (a Redis and real `celery worker`s) for test_with_worker.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitoring import checks
from tests.conftest import point_celery_at
from tests.integration.conftest import (  # noqa: F401 - fixtures used here too
    RedisServer,
    broker_url,
    free_port,
    redis_server,
    start_worker,
)


@pytest.fixture(scope="session")
def metrics_redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("metrics-redis"))
    for _attempt in range(3):  # the free port can be taken before Redis binds it
        try:
            server.start()
            break
        except pytest.fail.Exception:
            server.port = free_port()
    yield server
    server.stop()


@pytest.fixture
def metrics_redis(metrics_redis_server: RedisServer) -> Iterator[RedisServer]:
    """An empty Redis that the app uses as its broker (and so as its metrics store)."""
    with metrics_redis_server.client() as client:
        client.flushall()
    previous = point_celery_at(metrics_redis_server.url)
    yield metrics_redis_server
    point_celery_at(previous)


@pytest.fixture(autouse=True)
def _forget_migration_check():
    # The migrations check remembers a clean result per process; tests start afresh.
    checks._migrations_done.clear()
    yield
    checks._migrations_done.clear()
