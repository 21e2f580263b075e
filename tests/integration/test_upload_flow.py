"""A photo through the real web view, a real Redis and a real `celery worker`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from monitoring.models import PerformanceStat
from recognition.enrollment import enroll_photo
from recognition.models import Job, Person

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NAME = "Eileen Collins"


@pytest.fixture
def client(client, django_user_model):
    """Uploads need a login (tests/security covers who may see what)."""
    client.force_login(django_user_model.objects.create_user("uploader"))
    return client


@pytest.fixture
def eileen(astronaut_face_jpeg) -> Person:
    person = Person.objects.create(name=NAME)
    enroll_photo(person, astronaut_face_jpeg, "eileen-collins.jpg")
    return person


def test_upload_is_recognised_by_a_worker(
    client, eileen, start_worker, wait_for_job, astronaut_jpeg
):
    worker = start_worker()
    photo = SimpleUploadedFile("astronaut.jpg", astronaut_jpeg, "image/jpeg")

    response = client.post(reverse("recognition:upload"), {"images": [photo]})

    job = Job.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("recognition:submission", args=[job.submission])
    job = wait_for_job(job)
    assert job.status == Job.Status.SUCCESS, job.error
    assert NAME in [face["name"] for face in job.faces]
    assert NAME in job.recognized_name
    assert (job.worker_name, job.attempts) == (worker.name, 1)
    assert job.result_path == f"results/{job.pk}.jpg"
    with default_storage.open(job.result_path) as result:
        assert Image.open(result).size == (512, 512)


def test_job_status_json_and_result_image_are_served(
    client, eileen, start_worker, wait_for_job, wait_for_task_success, astronaut_jpeg
):
    worker = start_worker()
    photo = SimpleUploadedFile("astronaut.jpg", astronaut_jpeg, "image/jpeg")
    client.post(reverse("recognition:upload"), {"images": [photo]})
    job = wait_for_job(Job.objects.get())

    status = client.get(reverse("recognition:job_status", args=[job.pk])).json()
    image = client.get(status["result_url"])

    assert status["status"] == "SUCCESS"
    assert NAME in [face["label"] for face in status["faces"]]
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"
    assert wait_for_task_success(worker, job.task_id) == ["succeeded"]


def test_recognize_command_in_distributed_mode(
    eileen, start_worker, astronaut_jpeg, tmp_path
):
    start_worker()
    folder = tmp_path / "photos"
    (folder / "mission").mkdir(parents=True)
    (folder / "mission" / "astronaut.jpg").write_bytes(astronaut_jpeg)
    (folder / "notes.jpg").write_bytes(b"not an image")
    out = io.StringIO()

    call_command(
        "recognize", str(folder), "--mode", "distributed", "--json", stdout=out
    )

    results = {result["path"]: result for result in json.loads(out.getvalue())}
    assert set(results) == {"mission/astronaut.jpg", "notes.jpg"}
    found = results["mission/astronaut.jpg"]
    assert found["status"] == "SUCCESS"
    assert NAME in [face["name"] for face in found["faces"]]
    assert results["notes.jpg"]["status"] == "FAILURE"
    assert results["notes.jpg"]["error"]
    stat = PerformanceStat.objects.get()
    assert (stat.mode, stat.num_images, stat.num_workers) == ("distributed", 2, 1)
