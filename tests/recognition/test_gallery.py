from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recognition import gallery
from recognition.enrollment import enroll_photo
from recognition.models import KnownFace, Person

pytestmark = pytest.mark.django_db


def test_the_gallery_holds_every_enrolled_face(astronaut_face_jpeg):
    person = Person.objects.create(name="Eileen")
    face = enroll_photo(person, astronaut_face_jpeg, "a.jpg")
    loaded = gallery.load()
    assert len(loaded) == 1
    assert loaded.names == {person.pk: "Eileen"}
    assert np.array_equal(loaded.matrix[0], face.vector)


def test_current_reuses_the_matrix_until_the_gallery_changes(
    astronaut_face_jpeg, django_capture_on_commit_callbacks
):
    gallery.invalidate()
    assert len(gallery.current()) == 0
    with CaptureQueriesContext(connection) as queries:
        gallery.current()
        gallery.current()
    assert len(queries) == 0  # one cache read per call, no database query

    with django_capture_on_commit_callbacks(execute=True):
        person = Person.objects.create(name="Eileen")
        enroll_photo(person, astronaut_face_jpeg, "a.jpg")
    assert len(gallery.current()) == 1

    with django_capture_on_commit_callbacks(execute=True):
        person.name = "Eileen Collins"
        person.save()
    assert gallery.current().names == {person.pk: "Eileen Collins"}

    with django_capture_on_commit_callbacks(execute=True):
        KnownFace.objects.get().delete()
    assert len(gallery.current()) == 0


def test_another_process_sees_the_new_version_through_the_cache(astronaut_face_jpeg):
    from django.core.cache import cache

    gallery.current()
    person = Person.objects.create(name="Eileen")
    enroll_photo(person, astronaut_face_jpeg, "a.jpg")
    # Another process publishes a new version: this one reloads on its next use.
    cache.set(gallery.VERSION_KEY, "from-another-process", timeout=None)
    assert len(gallery.current()) == 1


def test_deleting_a_face_removes_its_file(
    astronaut_face_jpeg, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    person = Person.objects.create(name="Eileen")
    face = enroll_photo(person, astronaut_face_jpeg, "a.jpg")
    name = face.image.name
    assert name.startswith("known_faces/") and default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        face.delete()
    assert not default_storage.exists(name)
