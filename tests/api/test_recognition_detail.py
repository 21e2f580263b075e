"""GET/DELETE /api/v1/recognitions/{id} and GET …/{id}/annotated."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from recognition.models import Job

from .conftest import assert_error, finish, photo

pytestmark = pytest.mark.django_db

URL = "/api/v1/recognitions"


@pytest.fixture
def job(api, astronaut_jpeg) -> Job:
    response = api.post(URL, {"image": photo(astronaut_jpeg)})
    return Job.objects.get(pk=response.json()["id"])


def test_get_shows_the_job(api, job):
    body = api.get(f"{URL}/{job.pk}").json()

    assert (body["id"], body["status"], body["faces"]) == (job.pk, "PENDING", [])
    assert body["error"] is None


def test_get_with_a_trailing_slash(api, job):
    assert api.get(f"{URL}/{job.pk}/").json()["id"] == job.pk


def test_get_with_wait_answers_when_time_is_up(api, job):
    response = api.get(f"{URL}/{job.pk}", {"wait": 1})

    assert response.status_code == 200
    assert response.json()["final"] is False


def test_a_failed_job_shows_its_error(api, job):
    Job.objects.filter(pk=job.pk).update(status="FAILURE", error="Unreadable.")

    body = api.get(f"{URL}/{job.pk}").json()

    assert (body["status"], body["final"], body["error"]) == (
        "FAILURE",
        True,
        "Unreadable.",
    )


def test_candidates_are_cut_to_the_limit(api, job):
    stored = [
        {"person_id": i, "name": f"P{i}", "distance": 0.3 + i / 10} for i in range(3)
    ]
    face = {"name": "P0", "person_id": 0, "distance": 0.3, "verdict": "match"}
    face.update(box=[1, 20, 30, 4], candidates=stored)
    Job.objects.filter(pk=job.pk).update(
        status="SUCCESS", faces=[face], face_count=1, candidate_limit=2
    )

    (shown,) = api.get(f"{URL}/{job.pk}").json()["faces"]

    assert [c["person"]["id"] for c in shown["candidates"]] == [0, 1]
    assert shown["box"] == {"top": 1, "right": 20, "bottom": 30, "left": 4}


def test_an_ambiguous_face_names_nobody(api, job):
    face = {"name": None, "person_id": None, "distance": 0.4, "verdict": "ambiguous"}
    face.update(box=[1, 20, 30, 4], candidates=[])
    Job.objects.filter(pk=job.pk).update(status="SUCCESS", faces=[face])

    (shown,) = api.get(f"{URL}/{job.pk}").json()["faces"]

    assert (shown["verdict"], shown["person"]) == ("ambiguous", None)


def test_another_keys_job_is_not_found(camera, job):
    assert_error(camera.get(f"{URL}/{job.pk}"), 404, "not_found")
    assert_error(camera.delete(f"{URL}/{job.pk}"), 404, "not_found")


@pytest.mark.parametrize("pk", ["0", "123456", "99999999999999999999999"])
def test_unknown_ids_are_404(api, pk):
    assert api.get(f"{URL}/{pk}").status_code == 404


def test_delete_removes_row_upload_and_result(
    api, eileen, job, django_capture_on_commit_callbacks
):
    finish(job)
    files = [job.image.name, job.result_path]
    assert all(default_storage.exists(name) for name in files)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"{URL}/{job.pk}")

    assert response.status_code == 204
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not any(default_storage.exists(name) for name in files)


def test_a_running_job_cannot_be_deleted(api, job):
    job.claim("worker")

    assert_error(api.delete(f"{URL}/{job.pk}"), 409, "conflict")
    assert Job.objects.filter(pk=job.pk).exists()


def test_the_annotated_image_once_finished(api, eileen, job):
    assert_error(api.get(f"{URL}/{job.pk}/annotated"), 404, "not_found")
    finish(job)

    response = api.get(f"{URL}/{job.pk}/annotated", HTTP_ACCEPT="image/jpeg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert image.size == (512, 512)


def test_annotated_image_errors_are_json_even_when_asking_for_jpeg(api, job):
    response = api.get(f"{URL}/{job.pk}/annotated", HTTP_ACCEPT="image/jpeg")

    assert response["Content-Type"] == "application/json"
    assert_error(response, 404, "not_found")
