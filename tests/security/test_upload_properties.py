"""Property: whatever bytes are uploaded (random, or a real photo cut short or with
bytes flipped), the answer is never a 5xx, nothing is written outside MEDIA_ROOT,
and a refused file gets no row and nothing queued."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from recognition.models import Job
from tests.security.conftest import API_UPLOAD_URL, UPLOAD_URL, post_raw
from tests.security.hostile import encode

pytestmark = pytest.mark.django_db

SIGNATURES = [
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
]
EXAMPLES = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def photos(astronaut_rgb) -> list[bytes]:
    """The astronaut as JPEG, PNG and WebP (small, so that examples are quick)."""
    image = Image.fromarray(astronaut_rgb[::4, ::4])
    return [encode(image, "JPEG"), encode(image, "PNG"), encode(image, "WEBP")]


def flipped(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    buffer = bytearray(data)
    for position, value in flips:
        buffer[position % len(buffer)] = value
    return bytes(buffer)


def uploads(photos: list[bytes]) -> st.SearchStrategy[bytes]:
    photo = st.sampled_from(photos)
    return st.one_of(
        st.binary(max_size=4096),
        st.builds(
            lambda head, tail: head + tail, st.sampled_from(SIGNATURES), st.binary()
        ),
        st.builds(
            lambda data, cut: data[: int(len(data) * cut)], photo, st.floats(0, 1)
        ),
        st.builds(
            flipped,
            photo,
            st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
        ),
    )


@pytest.fixture
def generous_rates(settings):
    settings.FACESITE_UPLOAD_RATE = "1000000/minute"
    settings.FACESITE_API_THROTTLE_RATES = {
        "api": "1000000/minute",
        "upload": "1000000/minute",
    }


def files_outside(root: Path, media_root: Path) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and media_root not in path.parents
    ]


def check(response, callbacks, jobs_before: int, tmp_path: Path, settings) -> None:
    media_root = Path(settings.MEDIA_ROOT)
    assert response.status_code < 500, response.content[:500]
    added = Job.objects.count() - jobs_before
    if response.status_code in (200, 202, 302):
        assert added == 1 and len(callbacks) == 1
        job = Job.objects.order_by("-pk").first()
        assert job.status == Job.Status.PENDING
        assert (media_root / job.image.name).parent == media_root / "uploads"
    else:
        assert response.status_code in (400, 413, 415), response.status_code
        assert added == 0 and callbacks == []
    assert files_outside(tmp_path, media_root) == []


def test_the_upload_page_never_fails_on_any_bytes(
    photos, alice_client, generous_rates, tmp_path, settings,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    @EXAMPLES
    @given(data=uploads(photos), name=st.text(max_size=40))
    def property_(data: bytes, name: str) -> None:
        before = Job.objects.count()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = post_raw(
                alice_client,
                UPLOAD_URL,
                "images",
                name,
                data,
                headers={"accept": "application/json"},
            )
        check(response, callbacks, before, tmp_path, settings)

    property_()


def test_the_api_never_fails_on_any_bytes(
    photos, api, generous_rates, tmp_path, settings, django_capture_on_commit_callbacks
):
    @EXAMPLES
    @given(data=uploads(photos), name=st.text(max_size=40))
    def property_(data: bytes, name: str) -> None:
        before = Job.objects.count()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = post_raw(api, API_UPLOAD_URL, "image", name, data)
        check(response, callbacks, before, tmp_path, settings)

    property_()
