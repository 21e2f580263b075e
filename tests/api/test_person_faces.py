"""GET/POST /api/v1/people/{id}/faces and GET/DELETE …/faces/{face_id}."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from recognition.models import KnownFace, Person
from tests.conftest import jpeg_bytes

from .conftest import assert_error, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db) -> Person:
    return Person.objects.create(name="Ada")


def faces_url(person: Person) -> str:
    return f"/api/v1/people/{person.pk}/faces"


def test_enrol_a_photo(api, ada, astronaut_face_jpeg):
    response = api.post(faces_url(ada), {"image": photo(astronaut_face_jpeg, "a.jpg")})

    assert response.status_code == 201
    face = KnownFace.objects.get()
    assert (face.person, face.source_name) == (ada, "a.jpg")
    assert default_storage.exists(face.image.name)
    body = response.json()
    assert (body["id"], body["person"]) == (face.pk, ada.pk)
    assert response["Location"].endswith(f"/people/{ada.pk}/faces/{face.pk}")


def test_a_photo_with_two_faces_is_refused(api, ada, astronaut_jpeg):
    response = api.post(faces_url(ada), {"image": photo(astronaut_jpeg)})

    error = assert_error(response, 400, "several_faces", "image")
    assert "2 faces" in error["message"]
    assert not KnownFace.objects.exists()


def test_a_photo_without_a_face_is_refused(api, ada):
    gray = jpeg_bytes(np.full((120, 120, 3), 200, dtype=np.uint8))

    assert_error(
        api.post(faces_url(ada), {"image": photo(gray)}), 400, "no_face", "image"
    )


def test_the_same_photo_twice_is_refused(api, ada, astronaut_face_jpeg):
    api.post(faces_url(ada), {"image": photo(astronaut_face_jpeg)})

    response = api.post(faces_url(ada), {"image": photo(astronaut_face_jpeg)})

    assert_error(response, 400, "duplicate", "image")
    assert KnownFace.objects.count() == 1


def test_not_an_image_is_a_415(api, ada):
    response = api.post(faces_url(ada), {"image": photo(b"hello", "a.jpg")})

    assert_error(response, 415, "unsupported_image", "image")


def test_enrolling_needs_manage(camera, ada, astronaut_face_jpeg):
    response = camera.post(faces_url(ada), {"image": photo(astronaut_face_jpeg)})

    assert_error(response, 403, "permission_denied")


def test_enrolling_into_an_unknown_person_is_404(api, astronaut_face_jpeg):
    response = api.post(
        "/api/v1/people/999/faces", {"image": photo(astronaut_face_jpeg)}
    )

    assert_error(response, 404, "not_found")


def test_list_get_and_delete_a_face(api, eileen, django_capture_on_commit_callbacks):
    face = KnownFace.objects.get()
    face_url = f"{faces_url(eileen)}/{face.pk}"

    listed = api.get(faces_url(eileen)).json()
    shown = api.get(face_url + "/").json()
    with django_capture_on_commit_callbacks(execute=True):
        deleted = api.delete(face_url)

    assert [item["id"] for item in listed] == [face.pk] and shown["id"] == face.pk
    assert deleted.status_code == 204
    assert not KnownFace.objects.exists()
    assert not default_storage.exists(face.image.name)


def test_a_face_of_another_person_is_404(api, eileen, ada):
    face = KnownFace.objects.get()

    assert_error(api.delete(f"{faces_url(ada)}/{face.pk}"), 404, "not_found")
    assert KnownFace.objects.exists()


def test_a_box_picks_one_face_of_several(api, ada, astronaut_jpeg):
    response = api.post(
        faces_url(ada), {"image": photo(astronaut_jpeg), "box": "70,270,170,170"}
    )
    assert response.status_code == 201, response.json()
    assert KnownFace.objects.get().box == [76, 265, 166, 175]
    bad = api.post(faces_url(ada), {"image": photo(astronaut_jpeg), "box": "9,9,1,1"})
    error = bad.json()["error"]
    assert (bad.status_code, error["field"]) == (400, "box")


def test_a_lookalike_needs_confirm(api, ada, astronaut_face_jpeg, astronaut_rgb):
    api.post(faces_url(ada), {"image": photo(astronaut_face_jpeg, "a.jpg")})
    other = Person.objects.create(name="Other")
    again = jpeg_bytes(astronaut_rgb[:320])
    refused = api.post(faces_url(other), {"image": photo(again, "b.jpg")})
    assert_error(refused, 400, "lookalike", "image")
    accepted = api.post(
        faces_url(other), {"image": photo(again, "b.jpg"), "confirm": "true"}
    )
    assert accepted.status_code == 201
