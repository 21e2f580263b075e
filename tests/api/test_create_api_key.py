"""python manage.py create_api_key"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from recognition.models import ApiKey

from .conftest import key_client

pytestmark = pytest.mark.django_db


def create(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    assert "cannot be shown again" in err.getvalue()
    return out.getvalue().strip()


def test_prints_a_working_key_once_and_stores_its_digest():
    raw_key = create("door-camera", "--scopes", "recognize,manage")

    key = ApiKey.objects.get()
    assert (key.name, key.scope_list) == ("door-camera", ["recognize", "manage"])
    assert key.key_hash == ApiKey.digest(raw_key)
    assert raw_key not in (key.key_hash, key.prefix)
    assert (
        key_client(raw_key)
        .post("/api/v1/people", {"name": "Ada"}, format="json")
        .status_code
        == 201
    )


def test_the_default_scope_is_recognize():
    create("camera")

    assert ApiKey.objects.get().scope_list == ["recognize"]


def test_a_key_for_a_user():
    user = User.objects.create_user("bridge")

    create("bridge", "--user", "bridge")

    assert ApiKey.objects.get().user == user


@pytest.mark.parametrize(
    "args",
    [
        ("x", "--scopes", "recognize,delete"),
        ("x", "--scopes", ","),
        ("x", "--user", "nobody"),
        ("  ",),
    ],
)
def test_bad_arguments_are_refused(args):
    with pytest.raises(CommandError):
        call_command("create_api_key", *args, stdout=io.StringIO())

    assert not ApiKey.objects.exists()
