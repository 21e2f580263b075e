"""Rates per API key."""

from __future__ import annotations

import pytest

from .conftest import assert_error, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rates(settings):
    settings.FACESITE_API_THROTTLE_RATES = {"api": "3/minute", "upload": "1/minute"}


def test_the_fourth_request_in_a_minute_is_429(low_rates, api, camera):
    for _ in range(3):
        assert api.get("/api/v1/people").status_code == 200

    response = api.get("/api/v1/people")

    error = assert_error(response, 429, "throttled")
    assert "second" in error["message"]
    assert int(response["Retry-After"]) > 0
    assert camera.get("/api/v1/people").status_code == 200  # another key


def test_uploads_have_their_own_rate(low_rates, camera, astronaut_jpeg):
    first = camera.post("/api/v1/detections", {"image": photo(astronaut_jpeg)})
    second = camera.post("/api/v1/detections", {"image": photo(astronaut_jpeg)})

    assert first.status_code == 200
    assert_error(second, 429, "throttled")
    assert camera.get("/api/v1/recognitions").status_code == 200
