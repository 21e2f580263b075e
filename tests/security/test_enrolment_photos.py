"""FACESITE_KEEP_ENROLMENT_PHOTOS off: only encodings are kept."""

from __future__ import annotations

import pytest
from django.urls import reverse

from recognition import gallery
from recognition.enrollment import enroll_photo
from recognition.models import KnownFace, Person
from recognition.privacy import drop_enrolment_photos
from tests.security.conftest import stored_files

pytestmark = pytest.mark.django_db


def test_with_photos_off_only_the_encoding_is_stored(
    settings, astronaut_face_jpeg, tmp_path
):
    settings.FACESITE_KEEP_ENROLMENT_PHOTOS = False
    person = Person.objects.create(name="Eileen Collins")

    face = enroll_photo(person, astronaut_face_jpeg, "e.jpg")

    face.refresh_from_db()
    assert face.image.name == ""
    assert face.vector.shape == (128,)
    assert stored_files(settings.MEDIA_ROOT) == []
    gallery.invalidate()
    assert gallery.current().people_count == 1  # still recognised


def test_the_admin_shows_a_placeholder_for_a_photo_not_kept(
    settings, admin_client, astronaut_face_jpeg
):
    settings.FACESITE_KEEP_ENROLMENT_PHOTOS = False
    person = Person.objects.create(name="Eileen Collins")
    enroll_photo(person, astronaut_face_jpeg)

    page = admin_client.get(
        reverse("admin:recognition_person_change", args=[person.pk])
    ).content.decode()

    assert "no photo kept" in page
    assert "/media/" not in page


def test_turning_photos_off_later_deletes_the_kept_ones(settings, astronaut_face_jpeg):
    face = enroll_photo(Person.objects.create(name="E"), astronaut_face_jpeg)
    assert stored_files(settings.MEDIA_ROOT) == [face.image.name]
    assert drop_enrolment_photos() == 0  # kept while the setting says so

    settings.FACESITE_KEEP_ENROLMENT_PHOTOS = False
    assert drop_enrolment_photos() == 1
    assert drop_enrolment_photos() == 0  # a second run changes nothing

    face.refresh_from_db()
    assert face.image.name == "" and len(bytes(face.encoding)) == 128 * 8
    assert stored_files(settings.MEDIA_ROOT) == []
    assert KnownFace.objects.count() == 1
