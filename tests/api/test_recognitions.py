"""POST /api/v1/recognitions and GET /api/v1/recognitions."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from recognition.models import Job

from .conftest import NAME, assert_error, finish, photo

pytestmark = pytest.mark.django_db

URL = "/api/v1/recognitions"


def stored_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- POST -------------------------------------------------------------------------


def test_a_photo_becomes_a_pending_job(api, manage_key, astronaut_jpeg):
    response = api.post(URL, {"image": photo(astronaut_jpeg, "a.jpg")})

    assert response.status_code == 202
    job = Job.objects.get()
    body = response.json()
    assert body["id"] == job.pk
    assert body["status"] == "PENDING"
    assert body["final"] is False
    assert body["filename"] == "a.jpg"
    assert body["links"]["self"] == f"http://testserver/api/v1/recognitions/{job.pk}"
    assert body["links"]["annotated_image"] is None
    assert response["Location"] == body["links"]["self"]
    assert (job.api_key, job.priority, job.candidate_limit) == (
        manage_key[0],
        "normal",
        1,
    )
    assert job.image.name.startswith("uploads/")


def test_parameters_are_stored_on_the_job(api, astronaut_jpeg):
    response = api.post(
        URL,
        {
            "image": photo(astronaut_jpeg),
            "limit": 3,
            "tolerance": 0.5,
            "priority": "high",
            "callback_url": "https://example.org/hook",
        },
    )

    job = Job.objects.get()
    assert response.status_code == 202
    assert (job.candidate_limit, job.tolerance, job.priority) == (3, 0.5, "high")
    assert job.callback_url == "https://example.org/hook"
    assert response.json()["parameters"]["tolerance"] == 0.5
    assert response.json()["parameters"]["limit"] == 3


def test_several_images_make_a_batch(api, astronaut_jpeg, astronaut_face_jpeg):
    response = api.post(
        URL, {"images": [photo(astronaut_jpeg), photo(astronaut_face_jpeg)]}
    )

    assert response.status_code == 202
    body = response.json()
    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == sorted(
        Job.objects.values_list("pk", flat=True)
    )
    assert {str(s) for s in Job.objects.values_list("submission", flat=True)} == {
        body["submission"]
    }


def test_the_job_finished_by_a_worker_lists_faces(api, eileen, astronaut_jpeg):
    api.post(URL, {"image": photo(astronaut_jpeg), "limit": 2})
    job = finish(Job.objects.get())

    body = api.get(f"{URL}/{job.pk}").json()

    assert body["status"] == "SUCCESS" and body["final"] is True
    assert body["face_count"] == len(body["faces"]) == 2
    named = [face for face in body["faces"] if face["person"]]
    assert len(named) == 1
    face = named[0]
    assert face["person"] == {"id": eileen.pk, "name": NAME}
    assert face["verdict"] == "match"
    assert face["distance"] < 0.6
    assert set(face["box"]) == {"top", "right", "bottom", "left"}
    assert face["box"]["left"] < face["box"]["right"] <= 512
    assert face["candidates"] == [face["candidates"][0]]  # one person enrolled
    assert set(body["timings"]) >= {"decode", "detect", "encode", "match"}
    assert body["parameters"]["detector"] == "hog"
    assert body["links"]["annotated_image"].endswith(f"/{job.pk}/annotated")


def test_wait_answers_202_when_no_worker_finishes_in_time(api, astronaut_jpeg):
    started = time.monotonic()
    response = api.post(f"{URL}?wait=1", {"image": photo(astronaut_jpeg)})

    assert response.status_code == 202
    assert 1.0 <= time.monotonic() - started < 5
    assert response.json()["status"] == "PENDING"


@pytest.mark.parametrize("wait", ["31", "-1", "soon"])
def test_wait_is_checked(api, astronaut_jpeg, wait):
    response = api.post(URL, {"image": photo(astronaut_jpeg), "wait": wait})

    assert_error(response, 400, response.json()["error"]["code"], "wait")
    assert not Job.objects.exists()


def test_idempotency_key_returns_the_same_job(api, eileen, astronaut_jpeg):
    headers = {"Idempotency-Key": "order-42"}
    first = api.post(URL, {"image": photo(astronaut_jpeg)}, headers=headers)
    finish(Job.objects.get())

    again = api.post(URL + "?wait=5", {"image": photo(astronaut_jpeg)}, headers=headers)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "SUCCESS"
    assert Job.objects.count() == 1


def test_idempotency_key_is_per_api_key(api, camera, astronaut_jpeg):
    headers = {"Idempotency-Key": "same"}
    api.post(URL, {"image": photo(astronaut_jpeg)}, headers=headers)
    response = camera.post(URL, {"image": photo(astronaut_jpeg)}, headers=headers)

    assert response.status_code == 202
    assert Job.objects.count() == 2


def test_idempotency_key_expires_after_a_day(api, astronaut_jpeg):
    headers = {"Idempotency-Key": "old"}
    api.post(URL, {"image": photo(astronaut_jpeg)}, headers=headers)
    Job.objects.update(created_at=timezone.now() - timedelta(hours=25))

    response = api.post(URL, {"image": photo(astronaut_jpeg)}, headers=headers)

    assert response.status_code == 202
    assert Job.objects.count() == 2


@pytest.mark.parametrize("key", ["x" * 256, "", "with space", "ü"])
def test_a_bad_idempotency_key_is_refused(api, astronaut_jpeg, key):
    response = api.post(
        URL, {"image": photo(astronaut_jpeg)}, headers={"Idempotency-Key": key}
    )

    assert_error(response, 400, "invalid", "Idempotency-Key")


def test_no_image_is_a_400(api):
    assert_error(api.post(URL, {"limit": 2}), 400, "invalid", "image")


def test_not_an_image_is_a_415_with_nothing_stored(api, settings):
    response = api.post(URL, {"image": photo(b"%PDF-1.4 not an image", "x.jpg")})

    assert_error(response, 415, "unsupported_image", "image")
    assert not Job.objects.exists()
    assert stored_files(settings) == []


def test_an_oversized_image_is_a_413(api, settings, astronaut_jpeg):
    settings.FACESITE_MAX_UPLOAD_BYTES = 1000

    response = api.post(URL, {"image": photo(astronaut_jpeg)})

    assert_error(response, 413, "too_large", "image")
    assert not Job.objects.exists()


def test_one_bad_photo_in_a_batch_stores_nothing(api, settings, astronaut_jpeg):
    response = api.post(
        URL, {"images": [photo(astronaut_jpeg), photo(b"GIF89a...", "b.gif")]}
    )

    assert_error(response, 415, "unsupported_image", "images[1]")
    assert not Job.objects.exists()
    assert stored_files(settings) == []


def test_too_many_photos_are_refused(api, settings, astronaut_face_jpeg):
    settings.FACESITE_MAX_FILES_PER_UPLOAD = 2
    files = [photo(astronaut_face_jpeg, f"{i}.jpg") for i in range(3)]

    response = api.post(URL, {"images": files})

    assert_error(response, 400, "invalid", "images")


@pytest.mark.parametrize(
    ("field", "value"),
    [("limit", "0"), ("limit", "11"), ("tolerance", "nan"), ("priority", "urgent")],
)
def test_bad_parameters_name_their_field(api, astronaut_jpeg, field, value):
    response = api.post(URL, {"image": photo(astronaut_jpeg), field: value})

    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_callback_url_needs_a_webhook_secret(api, settings, astronaut_jpeg):
    settings.FACESITE_WEBHOOK_SECRET = ""

    response = api.post(
        URL, {"image": photo(astronaut_jpeg), "callback_url": "https://x.org/h"}
    )

    assert_error(response, 400, "invalid", "callback_url")


def test_the_path_also_works_with_a_trailing_slash(api, astronaut_jpeg):
    response = api.post(URL + "/", {"image": photo(astronaut_jpeg)})

    assert response.status_code == 202


# --- GET (list) -------------------------------------------------------------------


def make_jobs(api, jpeg: bytes, count: int) -> list[int]:
    return [api.post(URL, {"image": photo(jpeg)}).json()["id"] for _ in range(count)]


def test_the_list_is_paginated_newest_first(api, astronaut_face_jpeg):
    ids = make_jobs(api, astronaut_face_jpeg, 3)

    first = api.get(URL, {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    assert first["count"] == 3
    assert [item["id"] for item in first["results"] + second["results"]] == ids[::-1]
    assert second["next"] is None


def test_the_list_filters_by_status_and_date(api, astronaut_face_jpeg):
    ids = make_jobs(api, astronaut_face_jpeg, 2)
    Job.objects.filter(pk=ids[0]).update(
        status=Job.Status.FAILURE, created_at=timezone.now() - timedelta(days=3)
    )

    failed = api.get(URL, {"status": "FAILURE"}).json()
    recent = api.get(
        URL, {"created_after": (timezone.now() - timedelta(days=1)).isoformat()}
    ).json()

    assert [item["id"] for item in failed["results"]] == [ids[0]]
    assert [item["id"] for item in recent["results"]] == [ids[1]]


def test_the_list_filters_by_person(api, eileen, astronaut_jpeg, astronaut_face_jpeg):
    named, other = make_jobs(api, astronaut_jpeg, 1) + make_jobs(
        api, astronaut_face_jpeg, 1
    )
    finish(Job.objects.get(pk=named))
    Job.objects.filter(pk=other).update(recognized_name="Eileen Collinsworth")

    body = api.get(URL, {"person": eileen.pk}).json()

    assert [item["id"] for item in body["results"]] == [named]


def test_a_key_sees_only_its_own_jobs(api, camera, admin_client, astronaut_jpeg):
    mine = make_jobs(camera, astronaut_jpeg, 1)
    make_jobs(api, astronaut_jpeg, 1)

    listed = camera.get(URL).json()
    staff = admin_client.get(URL).json()

    assert [item["id"] for item in listed["results"]] == mine
    assert staff["count"] == 2


@pytest.mark.parametrize(
    "query",
    [
        {"status": "DONE"},
        {"person": "x"},
        {"created_after": "yesterday"},
        {"person": "99999999999999999999999"},
    ],
)
def test_bad_filters_are_400(api, query):
    response = api.get(URL, query)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == next(iter(query))


def test_a_page_past_the_end_is_404(api):
    assert_error(api.get(URL, {"page": 5}), 404, "not_found")
