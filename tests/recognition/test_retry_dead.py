from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recognition.models import Job
from recognition.tasks import QUEUE_DOWN_NOTE
from recognition.uploads import create_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_job(astronaut_jpeg):
    job = create_job(astronaut_jpeg, "a.jpg", uuid.uuid4())
    job.claim("w")
    Job.mark_dead(job.pk, "boom")
    return job


def test_retry_dead_revives_the_given_jobs(dead_job, broker_down):
    out = StringIO()
    call_command("retry_dead", str(dead_job.pk), stdout=out)
    dead_job.refresh_from_db()
    assert dead_job.status == Job.Status.PENDING
    assert dead_job.attempts == 0
    # Redis is down in this test: the revived job waits for the requeue task.
    assert dead_job.error == QUEUE_DOWN_NOTE
    assert "1 dead job(s) sent back" in out.getvalue()


def test_retry_dead_all(dead_job, broker_down):
    out = StringIO()
    call_command("retry_dead", "--all", stdout=out)
    assert Job.objects.get(pk=dead_job.pk).status == Job.Status.PENDING
    assert "1 dead job(s)" in out.getvalue()


def test_retry_dead_refuses_unknown_or_live_ids(dead_job, astronaut_jpeg):
    live = create_job(astronaut_jpeg, "b.jpg", uuid.uuid4())
    with pytest.raises(CommandError, match=f"Not dead or not found: {live.pk}, 999999"):
        call_command("retry_dead", str(live.pk), "999999", str(dead_job.pk))
    assert Job.objects.get(pk=dead_job.pk).status == Job.Status.DEAD
    with pytest.raises(CommandError, match="Give job ids or --all"):
        call_command("retry_dead")
