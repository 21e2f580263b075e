"""POST /api/v1/detections."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import jpeg_bytes

from .conftest import assert_error, photo

pytestmark = pytest.mark.django_db

URL = "/api/v1/detections"


def test_faces_and_boxes(camera, astronaut_jpeg):
    response = camera.post(URL, {"image": photo(astronaut_jpeg)})

    assert response.status_code == 200
    body = response.json()
    assert (body["width"], body["height"], body["detector"]) == (512, 512, "hog")
    assert len(body["faces"]) == 2
    assert all(face["landmarks"] is None for face in body["faces"])
    assert set(body["timings"]) == {"decode", "detect"}


@pytest.mark.parametrize(
    ("points", "features"),
    [
        ("5", {"left_eye", "right_eye", "nose_tip"}),
        ("68", {"chin", "left_eye", "right_eye", "nose_bridge", "top_lip"}),
    ],
)
def test_landmarks_on_request(camera, astronaut_face_jpeg, points, features):
    response = camera.post(
        URL, {"image": photo(astronaut_face_jpeg), "landmarks": points}
    )

    (face,) = response.json()["faces"]
    assert features <= set(face["landmarks"])
    # The lips share their corner points, so count the distinct ones.
    distinct = {tuple(xy) for xys in face["landmarks"].values() for xy in xys}
    assert len(distinct) == int(points)
    box = face["box"]
    x, y = face["landmarks"]["left_eye"][0]
    assert box["left"] <= x <= box["right"] and box["top"] <= y <= box["bottom"]


def test_no_face_is_an_empty_list(camera):
    gray = np.full((200, 300, 3), 128, dtype=np.uint8)

    body = camera.post(URL, {"image": photo(jpeg_bytes(gray))}).json()

    assert (body["faces"], body["width"], body["height"]) == ([], 300, 200)


def test_a_truncated_jpeg_is_a_400(camera, astronaut_jpeg):
    response = camera.post(URL, {"image": photo(astronaut_jpeg[:4000])})

    assert_error(response, 400, "invalid_image", "image")


def test_not_an_image_is_a_415(camera):
    response = camera.post(URL, {"image": photo(b"<svg></svg>", "x.svg")})

    assert_error(response, 415, "unsupported_image", "image")


def test_a_bad_landmarks_value_is_a_400(camera, astronaut_jpeg):
    response = camera.post(URL, {"image": photo(astronaut_jpeg), "landmarks": "7"})

    assert_error(response, 400, "invalid_choice", "landmarks")


def test_without_a_key_is_401(client, astronaut_jpeg):
    response = client.post(URL, {"image": photo(astronaut_jpeg)})

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"
