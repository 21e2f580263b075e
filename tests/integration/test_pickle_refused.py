"""A pickle message pushed straight into the Redis queue is refused by a real worker.

Workers accept JSON only (CELERY_ACCEPT_CONTENT): a message claiming
application/x-python-serialize is discarded without being unpickled, so the code a
pickle would run never runs, and no job changes.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shlex
import time
import uuid
from pathlib import Path

import pytest
from django_celery_results.models import TaskResult

from recognition.models import Job
from recognition.tasks import enqueue
from recognition.uploads import create_job
from tests.conftest import jpeg_bytes

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REFUSAL = "Refusing to deserialize untrusted content of type pickle"
JOB_FIELDS = ("status", "attempts", "worker_name", "start_time", "faces", "error")


class Exploit:
    """Unpickling this runs a shell command that creates `path`."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {shlex.quote(self.path)}",))


def pickle_message(
    job_id: int, marker: Path, queue: str = "default"
) -> tuple[bytes, str]:
    """A task message as kombu's Redis transport stores it, its body a pickle."""
    task_id = str(uuid.uuid4())
    body = pickle.dumps(((job_id,), {"exploit": Exploit(marker)}, {}), protocol=2)
    message = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "binary",
        "content-type": "application/x-python-serialize",
        "headers": {
            "lang": "py",
            "task": "recognition.tasks.process_job",
            "id": task_id,
            "root_id": task_id,
            "parent_id": None,
            "group": None,
            "retries": 0,
            "eta": None,
            "expires": None,
            "argsrepr": f"({job_id},)",
            "kwargsrepr": "{'exploit': ...}",
            "origin": "attacker@nowhere",
            "ignore_result": False,
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return json.dumps(message).encode(), task_id


def wait_for_log(worker, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = worker.log(lines=2000)
        if text in log:
            return log
        time.sleep(0.2)
    pytest.fail(f"{text!r} not in the worker log:\n{worker.log()}")


def test_a_raw_pickle_message_is_refused_and_changes_nothing(
    redis_server, broker_url, start_worker, wait_for_job, tmp_path, astronaut_rgb
):
    job = create_job(jpeg_bytes(astronaut_rgb[::4, ::4]), "photo.jpg", uuid.uuid4())
    before = Job.objects.filter(pk=job.pk).values(*JOB_FIELDS).get()
    marker = tmp_path / "pickle-ran"
    worker = start_worker()
    message, task_id = pickle_message(job.pk, marker)

    with redis_server.client() as client:
        client.lpush("default", message)
        log = wait_for_log(worker, REFUSAL)
        deadline = time.monotonic() + 10
        while client.llen("default") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.llen("default") == 0  # discarded, not left to loop

    assert "application/x-python-serialize" in log
    assert not marker.exists()
    assert Job.objects.filter(pk=job.pk).values(*JOB_FIELDS).get() == before
    assert not TaskResult.objects.filter(task_id=task_id).exists()
    # The worker is still serving: the same job, queued as JSON, is processed.
    assert worker.is_alive()
    assert enqueue(job)
    assert wait_for_job(job).status == Job.Status.SUCCESS
    assert not marker.exists()
