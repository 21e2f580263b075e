from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from recognition.enrollment import EnrollmentError, enroll_photo
from recognition.models import KnownFace, Person
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return Person.objects.create(name="Eileen Collins")


def test_enrolment_stores_photo_encoding_and_box(person, astronaut_face_jpeg):
    face = enroll_photo(person, astronaut_face_jpeg, "dir/eileen.jpg")
    assert face.vector.shape == (128,)
    assert face.source_name == "dir/eileen.jpg"
    assert len(face.box) == 4
    assert face.image.name.startswith("known_faces/")
    assert face.image.name.endswith(".jpg")
    with default_storage.open(face.image.name, "rb") as handle:
        assert handle.read() == astronaut_face_jpeg


def test_the_same_file_content_is_enrolled_once(person, astronaut_face_jpeg):
    enroll_photo(person, astronaut_face_jpeg, "a.jpg")
    other = Person.objects.create(name="Someone")
    with pytest.raises(EnrollmentError, match="already enrolled for Eileen Collins"):
        enroll_photo(other, astronaut_face_jpeg, "copy.jpg")
    assert KnownFace.objects.count() == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda full: full, "2 faces"),
        (lambda full: jpeg_bytes(np.full((200, 200, 3), 80, np.uint8)), "No face"),
        (lambda full: b"not an image", "not a supported image"),
        (lambda full: full[:5000], "could not be decoded"),
    ],
)
def test_refused_photos_leave_nothing_behind(person, astronaut_jpeg, make, message):
    with pytest.raises(EnrollmentError, match=message):
        enroll_photo(person, make(astronaut_jpeg), "bad.jpg")
    assert KnownFace.objects.count() == 0
    assert not default_storage.exists("known_faces") or not any(
        default_storage.listdir("known_faces")[1]
    )
