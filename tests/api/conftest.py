from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from recognition import gallery, processing
from recognition.enrollment import enroll_photo
from recognition.models import ApiKey, Job, Person

NAME = "Eileen Collins"


def key_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.fixture
def manage_key(db) -> tuple[ApiKey, str]:
    return ApiKey.issue("manager", ["recognize", "manage"])


@pytest.fixture
def api(manage_key) -> APIClient:
    """A client with a key that has both scopes."""
    return key_client(manage_key[1])


@pytest.fixture
def recognize_key(db) -> tuple[ApiKey, str]:
    return ApiKey.issue("camera", ["recognize"])


@pytest.fixture
def camera(recognize_key) -> APIClient:
    """A client whose key may only recognise."""
    return key_client(recognize_key[1])


@pytest.fixture
def eileen(db, astronaut_face_jpeg) -> Person:
    person = Person.objects.create(name=NAME)
    enroll_photo(person, astronaut_face_jpeg, "collins.jpg")
    # The test transaction never commits: publish the new gallery version here.
    gallery.invalidate()
    return person


def photo(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def finish(job: Job) -> Job:
    """Run the real pipeline on the job, as a worker would."""
    assert job.claim("test-worker")
    processing.process(job)
    job.refresh_from_db()
    return job


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code, body
    assert body["error"]["field"] == field, body
    assert body["error"]["message"]
    return body["error"]
