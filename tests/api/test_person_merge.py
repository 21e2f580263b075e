"""POST /api/v1/people/{id}/merge."""

from __future__ import annotations

import pytest

from recognition.models import Job, KnownFace, Person

from .conftest import assert_error, finish, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(db) -> Person:
    return Person.objects.create(name="Eileen M. Collins")


def merge_url(person: Person) -> str:
    return f"/api/v1/people/{person.pk}/merge"


def test_merge_moves_faces_and_deletes_the_other(
    api, target, eileen, astronaut_jpeg, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(merge_url(target), {"from": eileen.pk}, format="json")

    assert response.status_code == 200
    assert response.json()["face_count"] == 1
    assert not Person.objects.filter(pk=eileen.pk).exists()
    assert KnownFace.objects.get().person == target
    api.post("/api/v1/recognitions", {"image": photo(astronaut_jpeg)})
    assert finish(Job.objects.get()).recognized_name == "Eileen M. Collins"


def test_merging_into_oneself_is_refused(api, target):
    response = api.post(merge_url(target), {"from": target.pk}, format="json")

    assert_error(response, 400, "invalid", "from")


def test_merging_an_unknown_person_is_refused(api, target):
    response = api.post(merge_url(target), {"from": 987654}, format="json")

    assert_error(response, 400, "not_found", "from")


@pytest.mark.parametrize(
    "body", [{}, {"from": "x"}, {"from": None}, {"from": True}, {"from": "1"}]
)
def test_from_is_required(api, target, body):
    response = api.post(merge_url(target), body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "from"


def test_merging_needs_manage(camera, target, eileen):
    response = camera.post(merge_url(target), {"from": eileen.pk}, format="json")

    assert response.status_code == 403
    assert Person.objects.count() == 2
