from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from recognition.models import ApiKey, Job
from tests.conftest import jpeg_bytes

UPLOAD_URL = "/"
API_UPLOAD_URL = "/api/v1/recognitions"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="pw-bob-123")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ops", is_staff=True)


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return logged_in(alice)


@pytest.fixture
def api(db) -> APIClient:
    """An API client with a recognise-and-manage key."""
    _key, raw_key = ApiKey.issue("security-tests", ["recognize", "manage"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.fixture(scope="session")
def small_jpeg(astronaut_rgb) -> bytes:
    return jpeg_bytes(astronaut_rgb[:128, :128])


def upload(name: str, content: bytes, content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(media_root: Path) -> list[str]:
    if not media_root.exists():
        return []
    return sorted(
        str(path.relative_to(media_root))
        for path in media_root.rglob("*")
        if path.is_file()
    )


def assert_nothing_kept(media_root: Path, callbacks: list) -> None:
    """A refused upload leaves no row, no file and nothing to queue."""
    assert not Job.objects.exists()
    assert stored_files(media_root) == []
    assert callbacks == []


def multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body with the file name exactly as given, as a hostile client
    sends it (Django's test client keeps only the base name). Quotes and line breaks
    are escaped the way browsers do; everything else, NUL included, goes as is."""
    boundary = "----FaceSiteTestBoundary7MA4YWxkTrZu0gW"
    quoted = (
        filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    ).encode("utf-8", "surrogatepass")
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="{field}"; filename="'.encode(),
            quoted,
            b'"\r\nContent-Type: application/octet-stream\r\n\r\n',
            content,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return body, f"multipart/form-data; boundary={boundary}"


def post_raw(client, url: str, field: str, filename: str, content: bytes, **extra):
    body, content_type = multipart(field, filename, content)
    return client.post(url, data=body, content_type=content_type, **extra)
