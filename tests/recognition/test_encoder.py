"""The numpy ResNet against dlib's own, on real photos and the real model file."""

from __future__ import annotations

import csv

import face_recognition_models
import numpy as np
import pytest

from recognition import encoder
from recognition.pipeline import (
    ENCODE_BATCH,
    DetectOptions,
    detect_faces,
    encode_faces,
    load_image,
)

MODEL = face_recognition_models.face_recognition_model_location()
# float32 sums in another order: dlib's and ours differ by ~5e-7 a value. Distances
# that decide a match are compared with a tolerance of 0.6, so 1e-5 is exact enough.
CLOSE = 1e-5


@pytest.fixture(scope="module")
def dlib_encodings(face_recognition_package):
    def encodings(rgb: np.ndarray, boxes: list) -> np.ndarray:
        found = face_recognition_package.face_encodings(rgb, known_face_locations=boxes)
        return np.array(found)

    return encodings


def test_the_astronaut_encodes_as_dlib_encodes_her(astronaut_rgb, dlib_encodings):
    boxes = detect_faces(astronaut_rgb, DetectOptions())
    assert boxes
    ours = np.array(encode_faces(astronaut_rgb, boxes))
    assert ours.shape == (len(boxes), 128) and ours.dtype == np.float64
    assert np.abs(ours - dlib_encodings(astronaut_rgb, boxes)).max() < CLOSE


def test_shared_photos_encode_as_dlib_encodes_them(faces_dir, dlib_encodings):
    """Crops, group photos (2-7 faces) and strangers."""
    with open(faces_dir / "MANIFEST.csv", newline="") as manifest:
        paths = [row["path"] for row in csv.DictReader(manifest)]
    group = [p for p in paths if p.startswith("group/")][:3]
    crops = [p for p in paths if not p.startswith(("group/", "noface/"))][::20]
    faces = 0
    for path in group + crops:
        rgb = load_image((faces_dir / path).read_bytes(), 50_000_000)
        boxes = detect_faces(rgb, DetectOptions())
        if not boxes:
            continue
        ours = np.array(encode_faces(rgb, boxes))
        assert np.abs(ours - dlib_encodings(rgb, boxes)).max() < CLOSE, path
        faces += len(boxes)
    assert faces > ENCODE_BATCH * 2


def test_more_faces_than_a_batch_encode_as_dlib_encodes_them(
    astronaut_rgb, dlib_encodings
):
    crowd = np.ascontiguousarray(np.tile(astronaut_rgb, (2, 3, 1)))  # 1536 x 1024
    boxes = detect_faces(crowd, DetectOptions(max_side=max(crowd.shape)))
    assert len(boxes) > ENCODE_BATCH  # one call, several passes of the network
    ours = np.array(encode_faces(crowd, boxes))
    assert np.abs(ours - dlib_encodings(crowd, boxes)).max() < CLOSE


def test_a_batch_gives_each_face_what_it_gets_alone(astronaut_rgb):
    # Her face and a patch of her suit that HOG also takes for a face.
    boxes = detect_faces(astronaut_rgb, DetectOptions())
    assert len(boxes) == 2
    together = encode_faces(astronaut_rgb, boxes)
    for box, encoding in zip(boxes, together, strict=True):
        (alone,) = encode_faces(astronaut_rgb, [box])
        assert np.abs(encoding - alone).max() < 1e-6
    assert np.linalg.norm(together[0] - together[1]) > 0.1


def test_the_model_file_is_read_as_the_known_network():
    network = encoder.load(MODEL)
    assert len(network.blocks) == 14
    assert [b.down for b in network.blocks].count(True) == 4
    assert network.stem.weights.shape == (32, 3 * 7 * 7)
    assert network.projection.shape == (256, 128)
    np.testing.assert_allclose(network.mean_rgb, [122.782, 117.001, 104.298], atol=1e-3)


@pytest.mark.parametrize(
    "cut",
    [
        lambda data: b"not a model",
        lambda data: data[: len(data) // 2],  # ends inside a tensor
        lambda data: data.replace(b"\x07affine_", b"\x07affinx_", 1),  # a layer lost
        lambda data: data[:-300_000],  # the last layer missing
    ],
    ids=["garbage", "truncated", "unknown-layer", "no-head"],
)
def test_a_file_that_is_not_the_known_network_is_refused(cut):
    with open(MODEL, "rb") as model:
        data = model.read()
    with pytest.raises(encoder.ModelFormatError):
        encoder.build(cut(data))
