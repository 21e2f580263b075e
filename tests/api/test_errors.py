"""Every error has one JSON shape and the right status; bad input is never a 500."""

from __future__ import annotations

import pytest

from recognition.models import Job

from .conftest import assert_error, photo

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing", "/api/v1/people/x", "/api/nothing", "/api/"]
)
def test_unknown_paths_are_json_404(client, path):
    assert_error(client.get(path), 404, "not_found")


def test_wrong_method_is_405(api):
    assert_error(api.delete("/api/v1/people"), 405, "method_not_allowed")


def test_json_to_an_upload_endpoint_is_415(api):
    response = api.post("/api/v1/detections", {"image": "x"}, format="json")

    assert_error(response, 415, "unsupported_media_type")


def test_an_unknown_content_type_is_415(api):
    response = api.post(
        "/api/v1/people", b"name=x", content_type="application/x-unknown"
    )

    assert_error(response, 415, "unsupported_media_type")


def test_a_large_body_is_refused_from_its_header(api):
    response = api.post(
        "/api/v1/people",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )

    assert_error(response, 413, "too_large")


def test_a_large_upload_is_refused_from_its_header(api, settings, astronaut_jpeg):
    settings.FACESITE_MAX_UPLOAD_BYTES = 10_000
    settings.FACESITE_MAX_FILES_PER_UPLOAD = 1

    response = api.post(
        "/api/v1/recognitions",
        {"image": photo(astronaut_jpeg + b"\0" * 1_100_000)},
    )

    assert_error(response, 413, "too_large")
    assert not Job.objects.exists()


def test_too_many_files_for_django_is_400(api, settings, astronaut_face_jpeg):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2

    response = api.post(
        "/api/v1/recognitions",
        {"images": [photo(astronaut_face_jpeg) for _ in range(3)]},
    )

    assert_error(response, 400, "too_many_files")


def test_a_string_where_a_file_belongs(api):
    response = api.post("/api/v1/recognitions", {"image": "not a file"})

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "image"
