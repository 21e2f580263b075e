"""POST /api/v1/verify."""

from __future__ import annotations

import numpy as np
import pytest

from recognition.models import Person
from tests.conftest import jpeg_bytes

from .conftest import NAME, assert_error, photo

pytestmark = pytest.mark.django_db

URL = "/api/v1/verify"


def test_two_photos_of_the_same_person(camera, astronaut_jpeg, astronaut_face_jpeg):
    response = camera.post(
        URL,
        {
            "image": photo(astronaut_face_jpeg),
            "other_image": photo(astronaut_jpeg),
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["match"] is True
    assert body["distance"] < 0.1  # the same face, cropped
    assert body["tolerance"] == 0.6
    assert [face["faces_found"] for face in body["faces"]] == [1, 2]
    assert body["person"] is None


@pytest.mark.faces
def test_two_different_people(camera, faces_dir):
    blair = next((faces_dir / "known" / "Tony_Blair").iterdir()).read_bytes()
    obama = next((faces_dir / "known" / "Barack_Obama").iterdir()).read_bytes()

    body = camera.post(URL, {"image": photo(blair), "other_image": photo(obama)}).json()

    assert body["match"] is False
    assert body["distance"] > 0.6
    lenient = camera.post(
        URL,
        {"image": photo(blair), "other_image": photo(obama), "tolerance": 1.0},
    ).json()
    assert (lenient["match"], lenient["tolerance"]) == (True, 1.0)


def test_a_photo_against_an_enrolled_person(camera, eileen, astronaut_jpeg):
    body = camera.post(
        URL, {"image": photo(astronaut_jpeg), "person": eileen.pk}
    ).json()

    assert body["match"] is True
    assert body["person"] == {"id": eileen.pk, "name": NAME}


@pytest.mark.parametrize("extra", [{}, {"person": "1", "other_image": "x"}])
def test_exactly_one_thing_to_compare_with(camera, astronaut_jpeg, extra):
    response = camera.post(URL, {"image": photo(astronaut_jpeg), **extra})

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "other_image"


def test_a_photo_without_a_face(camera, eileen):
    gray = jpeg_bytes(np.full((100, 100, 3), 90, dtype=np.uint8))

    response = camera.post(URL, {"image": photo(gray), "person": eileen.pk})

    assert_error(response, 400, "no_face", "image")


def test_an_unknown_person(camera, astronaut_jpeg):
    response = camera.post(URL, {"image": photo(astronaut_jpeg), "person": 999})

    assert_error(response, 400, "not_found", "person")


def test_a_person_without_faces(camera, astronaut_jpeg):
    nobody = Person.objects.create(name="Nobody")

    response = camera.post(URL, {"image": photo(astronaut_jpeg), "person": nobody.pk})

    assert_error(response, 400, "no_faces", "person")


def test_the_other_photo_is_checked(camera, astronaut_jpeg):
    response = camera.post(
        URL, {"image": photo(astronaut_jpeg), "other_image": photo(b"nope", "n.png")}
    )

    assert_error(response, 415, "unsupported_image", "other_image")
