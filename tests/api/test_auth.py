"""API keys, scopes and staff sessions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from recognition.models import ApiKey

from .conftest import assert_error, key_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/people"


def test_no_credentials_is_401_with_the_scheme(client):
    response = client.get(URL)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "header",
    ["Api-Key nope", "Api-Key", "Api-Key a b", "api-key 12345678.wrong", "Api-Key é"],
)
def test_bad_keys_are_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert_error(client.get(URL), 401, "authentication_failed")


def test_a_valid_key_works_and_is_marked_used(manage_key):
    key, raw_key = manage_key

    assert key_client(raw_key).get(URL).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_only_a_digest_is_stored(manage_key):
    key, raw_key = manage_key

    assert raw_key.startswith(f"{key.prefix}.")
    assert raw_key not in (key.key_hash, key.prefix)
    assert len(key.key_hash) == 64


def test_a_revoked_key_is_401(manage_key):
    key, raw_key = manage_key
    ApiKey.objects.filter(pk=key.pk).update(active=False)

    assert_error(key_client(raw_key).get(URL), 401, "authentication_failed")


def test_a_key_of_an_inactive_user_is_401(db):
    user = User.objects.create_user("bot", is_active=False)
    _key, raw_key = ApiKey.issue("bot", ["recognize"], user)

    assert key_client(raw_key).get(URL).status_code == 401


def test_a_key_without_the_scope_is_403(db):
    _key, raw_key = ApiKey.issue("admin-only", ["manage"])

    response = key_client(raw_key).get("/api/v1/recognitions")

    error = assert_error(response, 403, "permission_denied")
    assert "recognize" in error["message"]


def test_a_staff_session_works(admin_client):
    assert admin_client.get(URL).status_code == 200


def test_a_staff_session_needs_csrf_for_changes(admin_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post(URL, {"name": "Ada"}, format="json")

    assert_error(response, 403, "permission_denied")


def test_a_non_staff_session_is_403(db):
    client = APIClient()
    client.force_login(User.objects.create_user("visitor"))

    error = assert_error(client.get(URL), 403, "permission_denied")
    assert "staff" in error["message"]


def test_jobs_of_a_key_with_a_user_are_theirs(db, astronaut_face_jpeg):
    from recognition.models import Job

    from .conftest import photo

    user = User.objects.create_user("door")
    _key, raw_key = ApiKey.issue("door", ["recognize"], user)

    key_client(raw_key).post(
        "/api/v1/recognitions", {"image": photo(astronaut_face_jpeg)}
    )

    assert Job.objects.get().owner == user
