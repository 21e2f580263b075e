"""Queue depths read straight from the Redis broker."""

from __future__ import annotations

import logging

from facesite.celery import app

logger = logging.getLogger(__name__)


def queue_keys(name: str) -> list[str]:
    """The Redis lists behind one Celery queue: one per message priority step."""
    options = app.conf.broker_transport_options
    sep = options.get("sep", "\x06\x16")
    steps = options.get("priority_steps", [0, 3, 6, 9])
    return [name if step == 0 else f"{name}{sep}{step}" for step in steps]


def queue_depths() -> dict[str, int] | None:
    """Messages waiting per queue, or None when Redis cannot be reached."""
    names = [queue.name for queue in app.conf.task_queues or []]
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=0, timeout=2)
            client = connection.default_channel.client
            pipe = client.pipeline()
            for name in names:
                for key in queue_keys(name):
                    pipe.llen(key)
            lengths = iter(pipe.execute())
    except Exception as exc:  # noqa: BLE001 - any broker failure means "unknown"
        logger.warning("Queue depths unavailable: %s", exc)
        return None
    return {name: sum(next(lengths) for _ in queue_keys(name)) for name in names}


def unacked_count() -> int | None:
    """Messages delivered to workers and not yet acknowledged (acks_late)."""
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=0, timeout=2)
            return int(connection.default_channel.client.hlen("unacked"))
    except Exception as exc:  # noqa: BLE001
        logger.warning("Unacked count unavailable: %s", exc)
        return None
