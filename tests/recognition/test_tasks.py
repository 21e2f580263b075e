from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.core.files.storage import default_storage

from recognition.enrollment import enroll_photo
from recognition.models import Job, Person
from recognition.tasks import QUEUE_DOWN_NOTE, enqueue, process_job, requeue_stale_jobs
from recognition.uploads import create_job
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def eileen(astronaut_face_jpeg):
    person = Person.objects.create(name="Eileen Collins")
    enroll_photo(person, astronaut_face_jpeg, "eileen.jpg")
    return person


def make_job(data: bytes, name: str = "photo.jpg") -> Job:
    return create_job(data, name, uuid.uuid4())


def test_task_recognises_the_enrolled_face(eileen, astronaut_jpeg):
    job = make_job(astronaut_jpeg)
    outcome = process_job(job.pk)
    job.refresh_from_db()
    assert outcome == {"job": job.pk, "status": "SUCCESS"}
    assert job.status == Job.Status.SUCCESS
    assert job.recognized_name == "Eileen Collins"
    named = [face for face in job.faces if face["name"]]
    assert [face["person_id"] for face in named] == [eileen.pk]
    assert named[0]["distance"] < 0.1
    assert job.face_count == len(job.faces) >= 1
    assert job.attempts == 1
    assert job.start_time <= job.end_time
    assert job.duration >= 0
    assert job.result_path == f"results/{job.pk}.jpg"
    assert default_storage.exists(job.result_path)
    assert set(job.timings) == {"decode", "detect", "encode", "match", "annotate"}


def test_running_a_finished_job_twice_changes_nothing(eileen, astronaut_jpeg):
    job = make_job(astronaut_jpeg)
    process_job(job.pk)
    first = Job.objects.get(pk=job.pk)
    outcome = process_job(job.pk)
    second = Job.objects.get(pk=job.pk)
    assert outcome["duplicate"] is True
    assert (second.attempts, second.end_time, second.faces) == (
        first.attempts,
        first.end_time,
        first.faces,
    )
    assert default_storage.listdir("results")[1] == [f"{job.pk}.jpg"]


def test_a_photo_without_faces_is_a_success_with_zero_faces(eileen):
    job = make_job(jpeg_bytes(np.full((240, 320, 3), 200, dtype=np.uint8)))
    process_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS
    assert (job.face_count, job.faces, job.recognized_name) == (0, [], "")


def test_a_face_beyond_the_tolerance_is_unknown_not_the_nearest_person(
    eileen, astronaut_jpeg
):
    # HOG also fires on the astronaut's suit: that "face" is far from Eileen's photo.
    job = make_job(astronaut_jpeg)
    process_job(job.pk)
    job.refresh_from_db()
    unknown = [face for face in job.faces if face["name"] is None]
    assert len(unknown) == 1
    assert unknown[0]["person_id"] is None
    assert unknown[0]["candidates"][0]["name"] == "Eileen Collins"
    assert unknown[0]["distance"] > 0.6
    assert job.recognized_name == "Eileen Collins"


def test_bad_input_fails_at_once_with_its_reason(eileen, astronaut_jpeg):
    # Uploads refuse a truncated file; one that reaches storage anyway (an old
    # file, a disk error) must still fail at once.
    job = make_job(astronaut_jpeg)
    with default_storage.open(job.image.name, "wb") as handle:
        handle.write(astronaut_jpeg[:20_000])  # truncated JPEG
    outcome = process_job(job.pk)
    job.refresh_from_db()
    assert outcome["status"] == "FAILURE"
    assert job.status == Job.Status.FAILURE
    assert "truncated" in job.error
    assert job.attempts == 1
    assert job.result_path == ""


def test_a_missing_upload_file_fails_with_a_reason(astronaut_jpeg):
    job = make_job(astronaut_jpeg)
    default_storage.delete(job.image.name)
    process_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILURE
    assert "missing" in job.error


def test_an_unknown_job_id_does_nothing():
    assert process_job(987654) == {"job": 987654, "status": "missing"}


def test_a_job_left_started_by_a_dead_worker_is_taken_over(eileen, astronaut_jpeg):
    job = make_job(astronaut_jpeg)
    assert job.claim("worker-that-died")
    process_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS
    assert job.attempts == 2


def test_only_the_latest_claim_may_record_the_outcome(astronaut_jpeg):
    job = make_job(astronaut_jpeg)
    stale = Job.objects.get(pk=job.pk)
    assert stale.claim("first")
    assert job.claim("second")
    assert not stale.mark_failed("late")
    assert job.mark_failed("on time")
    job.refresh_from_db()
    assert (job.status, job.error, job.worker_name) == ("FAILURE", "on time", "second")


def test_enqueue_with_redis_down_keeps_the_job_pending(astronaut_jpeg, broker_down):
    job = make_job(astronaut_jpeg)
    assert enqueue(job) is False
    job.refresh_from_db()
    assert job.status == Job.Status.PENDING
    assert job.error == QUEUE_DOWN_NOTE
    # The maintenance task tries again; with Redis still down nothing changes.
    assert requeue_stale_jobs() == {"requeued": 0, "dead": 0}
    job.refresh_from_db()
    assert (job.status, job.error) == (Job.Status.PENDING, QUEUE_DOWN_NOTE)
