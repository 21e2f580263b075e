"""GET/POST /api/v1/people."""

from __future__ import annotations

import pytest

from recognition.models import Person

from .conftest import NAME, assert_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/people"


def test_the_list_has_names_and_face_counts(camera, eileen):
    Person.objects.create(name="Ada")

    body = camera.get(URL).json()

    assert body["count"] == 2
    assert [(p["name"], p["face_count"]) for p in body["results"]] == [
        ("Ada", 0),
        (NAME, 1),
    ]
    assert body["results"][1]["links"]["self"].endswith(f"/people/{eileen.pk}")


def test_search_by_part_of_the_name(camera, eileen):
    Person.objects.create(name="Ada")

    body = camera.get(URL, {"search": "colli"}).json()

    assert [p["id"] for p in body["results"]] == [eileen.pk]


def test_create_with_json(api):
    response = api.post(URL, {"name": "  Grace Hopper "}, format="json")

    assert response.status_code == 201
    person = Person.objects.get()
    assert person.name == "Grace Hopper"
    assert response.json()["faces"] == []
    assert response["Location"].endswith(f"/api/v1/people/{person.pk}")


def test_create_takes_json_only(api):
    assert_error(api.post(URL, {"name": "Ada"}), 415, "unsupported_media_type")


@pytest.mark.parametrize("name", [42, None, ["Ada"], {"first": "Ada"}])
def test_a_name_must_be_a_string(api, name):
    response = api.post(URL, {"name": name}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "name"


def test_a_duplicate_name_is_a_400(api, eileen):
    response = api.post(URL, {"name": NAME}, format="json")

    assert_error(response, 400, "unique", "name")


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 201, " " + "x" * 200, "nul\x00byte", "tab\tname"]
)
def test_bad_names_are_400(api, name):
    response = api.post(URL, {"name": name}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "name"
    assert not Person.objects.exists()


def test_creating_needs_the_manage_scope(camera):
    response = camera.post(URL, {"name": "Ada"}, format="json")

    error = assert_error(response, 403, "permission_denied")
    assert "manage" in error["message"]


def test_malformed_json_is_a_400(api):
    response = api.post(URL, b"{nope", content_type="application/json")

    assert_error(response, 400, "parse_error")


def test_the_list_is_paginated(camera):
    Person.objects.bulk_create(Person(name=f"P{i:02}") for i in range(5))

    body = camera.get(URL + "/", {"page_size": 2, "page": 3}).json()

    assert [p["name"] for p in body["results"]] == ["P04"]
    assert body["next"] is None
