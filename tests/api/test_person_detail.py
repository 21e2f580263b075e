"""GET/PATCH/DELETE /api/v1/people/{id}."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from recognition.models import Job, KnownFace, Person

from .conftest import NAME, assert_error, finish, photo

pytestmark = pytest.mark.django_db


def url(person: Person) -> str:
    return f"/api/v1/people/{person.pk}"


def test_get_lists_the_faces(camera, eileen):
    body = camera.get(url(eileen)).json()

    (face,) = body["faces"]
    assert (body["name"], body["face_count"]) == (NAME, 1)
    assert face["id"] == KnownFace.objects.get().pk
    assert face["source_name"] == "collins.jpg"
    assert set(face["box"]) == {"top", "right", "bottom", "left"}


def test_rename(api, eileen):
    response = api.patch(url(eileen), {"name": "E. Collins"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "E. Collins"
    eileen.refresh_from_db()
    assert eileen.name == "E. Collins"


def test_rename_to_a_taken_name(api, eileen):
    Person.objects.create(name="Ada")

    assert_error(
        api.patch(url(eileen), {"name": "Ada"}, format="json"), 400, "unique", "name"
    )


def test_put_is_not_allowed(api, eileen):
    response = api.put(url(eileen), {"name": "X"}, format="json")

    assert_error(response, 405, "method_not_allowed")


def test_renaming_needs_manage(camera, eileen):
    assert camera.patch(url(eileen), {"name": "X"}, format="json").status_code == 403


def test_delete_removes_faces_files_and_matches(
    api, eileen, astronaut_jpeg, django_capture_on_commit_callbacks
):
    face_file = KnownFace.objects.get().image.name
    assert default_storage.exists(face_file)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(url(eileen))

    assert response.status_code == 204
    assert not Person.objects.exists() and not KnownFace.objects.exists()
    assert not default_storage.exists(face_file)
    api.post("/api/v1/recognitions", {"image": photo(astronaut_jpeg)})
    job = finish(Job.objects.get())
    assert job.status == "SUCCESS" and job.face_count == 2
    assert job.recognized_name == ""


def test_unknown_person_is_404(api):
    assert_error(api.get("/api/v1/people/424242"), 404, "not_found")
    assert_error(api.delete("/api/v1/people/424242"), 404, "not_found")
