from __future__ import annotations

import hashlib
import io

import cv2
import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from recognition.enrollment import EnrollmentError, LookalikeWarning, enroll_photo
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
    assert face.image.name.endswith(".jpg")  # a JPEG stays a JPEG, stripped
    with default_storage.open(face.image.name, "rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    # Stored pixels only (tests/security); the digest is the original's.
    assert (stored.format, stored.size) == ("JPEG", (512, 300))
    assert face.sha256 == hashlib.sha256(astronaut_face_jpeg).hexdigest()


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


# --- The quality gate ----------------------------------------------------------------

ASTRONAUT_FACE = [76, 265, 166, 175]


def test_a_blurred_face_is_refused(person, astronaut_rgb):
    # Still found by the detector, but too soft to encode reliably.
    blurred = cv2.GaussianBlur(astronaut_rgb[:300], (0, 0), 2)
    with pytest.raises(EnrollmentError, match="too blurred"):
        enroll_photo(person, jpeg_bytes(blurred))
    assert KnownFace.objects.count() == 0


def test_a_face_below_the_minimum_size_is_refused(
    person, astronaut_face_jpeg, settings
):
    settings.FACESITE_ENROL_MIN_FACE = 120  # her face is 90 px wide
    with pytest.raises(
        EnrollmentError, match="90 px wide; enrolment needs at least 120"
    ):
        enroll_photo(person, astronaut_face_jpeg)


def test_several_faces_are_refused_unless_a_box_picks_one(person, astronaut_jpeg):
    with pytest.raises(EnrollmentError, match="2 faces .* choose one by its box"):
        enroll_photo(person, astronaut_jpeg)
    face = enroll_photo(person, astronaut_jpeg, box=(70, 270, 170, 170))
    assert face.box == ASTRONAUT_FACE
    other_bytes = jpeg_bytes(np.asarray(Image.open(io.BytesIO(astronaut_jpeg))), 80)
    with pytest.raises(EnrollmentError, match="No face was found at the chosen box"):
        enroll_photo(
            Person.objects.create(name="Other"), other_bytes, box=(0, 60, 60, 0)
        )


def test_the_same_face_under_a_new_name_needs_confirmation(
    person, astronaut_face_jpeg, astronaut_rgb, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enroll_photo(person, astronaut_face_jpeg)
    again = jpeg_bytes(astronaut_rgb[:320])  # other bytes, the same face
    newcomer = Person.objects.create(name="Newcomer")
    with pytest.raises(LookalikeWarning, match="nearer to Eileen Collins") as warning:
        enroll_photo(newcomer, again)
    assert warning.value.other == "Eileen Collins"
    assert warning.value.other_distance < 0.4
    face = enroll_photo(newcomer, again, confirm=True)
    assert face.person == newcomer


def test_a_photo_nearer_to_another_person_needs_confirmation(
    faces_dir, django_capture_on_commit_callbacks
):
    blair = Person.objects.create(name="Tony_Blair")
    dion = Person.objects.create(name="Celine_Dion")
    with django_capture_on_commit_callbacks(execute=True):
        for who in (blair, dion):
            for path in sorted((faces_dir / "known" / who.name).iterdir()):
                enroll_photo(who, path.read_bytes())
    blair_probe = sorted((faces_dir / "probe" / "Tony_Blair").iterdir())[0]
    with pytest.raises(
        LookalikeWarning, match="nearer to Tony_Blair .* than to Celine"
    ):
        enroll_photo(dion, blair_probe.read_bytes())
    assert enroll_photo(blair, blair_probe.read_bytes()).person == blair
