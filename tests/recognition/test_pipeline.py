from __future__ import annotations

import io
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from recognition.pipeline import (
    DetectOptions,
    Gallery,
    ImageError,
    annotate,
    detect_faces,
    encode_faces,
    encode_single_face,
    face_landmarks,
    load_image,
    load_models,
    match_faces,
    nearest_columns,
    recognize,
    sniff_format,
)
from tests.conftest import jpeg_bytes

LIMIT = 40_000_000
HOG = DetectOptions()
# Where HOG finds Eileen Collins' face in data.astronaut() (top, right, bottom, left).
ASTRONAUT_FACE = (76, 265, 166, 175)


def near(box, expected, slack):
    return all(abs(a - b) <= slack for a, b in zip(box, expected, strict=True))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --- load ------------------------------------------------------------------------


def test_load_image_gives_rgb_array(astronaut_jpeg):
    rgb = load_image(astronaut_jpeg, LIMIT)
    assert rgb.shape == (512, 512, 3)
    assert rgb.dtype == np.uint8


def test_load_image_converts_grey_and_alpha_to_rgb():
    grey = png_bytes(Image.new("L", (30, 20), 128))
    rgba = png_bytes(Image.new("RGBA", (30, 20), (10, 20, 30, 0)))
    assert load_image(grey, LIMIT).shape == (20, 30, 3)
    assert load_image(rgba, LIMIT).shape == (20, 30, 3)


def test_load_image_applies_exif_orientation():
    image = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert load_image(buffer.getvalue(), LIMIT).shape == (40, 20, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"just some text, not a photo", "not a supported image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a supported image"),
    ],
)
def test_load_image_refuses_non_images(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data, LIMIT)


def test_load_image_refuses_truncated_jpeg_after_the_models_load(astronaut_jpeg):
    # Importing face_recognition would switch Pillow to accept truncated files: the
    # models are loaded without it.
    load_models()
    encode_faces(load_image(astronaut_jpeg, LIMIT), [ASTRONAUT_FACE])
    with pytest.raises(ImageError, match="truncated"):
        load_image(astronaut_jpeg[: len(astronaut_jpeg) // 2], LIMIT)


def test_load_image_refuses_images_over_the_pixel_limit(astronaut_jpeg):
    with pytest.raises(ImageError, match="over the limit"):
        load_image(astronaut_jpeg, 512 * 512 - 1)


def test_load_image_refuses_a_decompression_bomb_before_decoding():
    bomb = png_bytes(Image.new("1", (10_000, 10_000)))
    assert len(bomb) < 100_000
    with pytest.raises(ImageError, match="more pixels than the limit"):
        load_image(bomb, LIMIT)


def test_sniff_format_reads_the_bytes_not_the_name(astronaut_jpeg):
    assert sniff_format(astronaut_jpeg) == "JPEG"
    assert sniff_format(png_bytes(Image.new("RGB", (4, 4)))) == "PNG"
    assert sniff_format(b"GIF89a....") is None
    assert sniff_format(b"%!PS-Adobe-3.0 EPSF-3.0") is None


# --- detect and encode ---------------------------------------------------------------


def test_hog_finds_the_astronaut_face(astronaut_rgb):
    boxes = detect_faces(astronaut_rgb, HOG)
    assert any(near(box, ASTRONAUT_FACE, 4) for box in boxes)


def test_detection_on_a_reduced_copy_maps_boxes_to_original_pixels(astronaut_rgb):
    large = cv2.resize(astronaut_rgb, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    boxes = detect_faces(large, DetectOptions(max_side=512))
    expected = tuple(4 * v for v in ASTRONAUT_FACE)
    assert any(near(box, expected, 24) for box in boxes), boxes


def test_no_face_in_a_plain_image():
    flat = np.full((300, 400, 3), 127, dtype=np.uint8)
    assert detect_faces(flat, HOG) == []
    assert encode_faces(flat, []) == []


def test_a_worker_process_loads_its_models_without_face_recognition():
    """Its import loads every dlib model (the 68-point predictor: ~95 MB more per
    process) and accepts truncated images process-wide."""
    code = (
        "import sys; from recognition import pipeline; pipeline.load_models(); "
        "print(sorted(m for m in sys.modules if m.startswith('face_recognition')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "['face_recognition_models']"


def test_boxes_and_landmarks_are_face_recognitions(
    astronaut_rgb, faces_dir, face_recognition_package
):
    fr = face_recognition_package
    photos = [astronaut_rgb] + [
        load_image(path.read_bytes(), LIMIT)
        for path in sorted((faces_dir / "group").glob("*.jpg"))[:2]
        + sorted((faces_dir / "probe").rglob("*.jpg"))[:3]
    ]
    for rgb in photos:
        # Small enough that no copy is reduced: the boxes are the detector's own.
        options = DetectOptions(max_side=max(rgb.shape))
        boxes = detect_faces(rgb, options)
        upsample = int(rgb.shape[0] * rgb.shape[1] <= options.upsample_max_pixels)
        theirs = fr.face_locations(rgb, number_of_times_to_upsample=upsample)
        height, width = rgb.shape[:2]
        clamped = [
            (t, min(r, width - 1), min(b, height - 1), left) for t, r, b, left in theirs
        ]
        assert boxes == clamped and boxes
        for points, model in ((5, "small"), (68, "large")):
            ours = face_landmarks(rgb, boxes, points)
            assert ours == fr.face_landmarks(rgb, boxes, model=model)


def test_haar_detector_finds_the_face(astronaut_rgb):
    boxes = detect_faces(astronaut_rgb, DetectOptions(detector="haar"))
    assert any(near(box, ASTRONAUT_FACE, 30) for box in boxes), boxes


def test_cnn_detector_finds_the_face(astronaut_rgb):
    # Without upsampling: the CNN takes seconds per image on a CPU.
    boxes = detect_faces(
        astronaut_rgb, DetectOptions(detector="cnn", upsample_max_pixels=0)
    )
    assert any(near(box, ASTRONAUT_FACE, 20) for box in boxes), boxes


def test_unknown_detector_is_refused(astronaut_rgb):
    with pytest.raises(ValueError, match="Unknown detector"):
        detect_faces(astronaut_rgb, DetectOptions(detector="magic"))


def test_encoding_is_128_values_and_stable(astronaut_rgb):
    (first,) = encode_faces(astronaut_rgb, [ASTRONAUT_FACE])
    (second,) = encode_faces(astronaut_rgb.copy(), [ASTRONAUT_FACE])
    assert first.shape == (128,)
    assert np.linalg.norm(first - second) < 1e-6


def test_encode_single_face_refuses_zero_and_several_faces(
    astronaut_jpeg, astronaut_face_jpeg
):
    box, encoding = encode_single_face(
        astronaut_face_jpeg, detect=HOG, max_pixels=LIMIT
    )
    assert near(box, ASTRONAUT_FACE, 4)
    assert encoding.shape == (128,)
    with pytest.raises(ImageError, match="2 faces"):
        encode_single_face(astronaut_jpeg, detect=HOG, max_pixels=LIMIT)
    flat = jpeg_bytes(np.full((200, 200, 3), 90, dtype=np.uint8))
    with pytest.raises(ImageError, match="No face"):
        encode_single_face(flat, detect=HOG, max_pixels=LIMIT)


# --- match ---------------------------------------------------------------------------


def random_unit(rng, n):
    vectors = rng.normal(size=(n, 128))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True) * 0.5


@pytest.mark.parametrize(("dtype", "error"), [(np.float32, 1e-5), (np.float64, 1e-9)])
def test_person_distances_equal_brute_force_nearest_photo(dtype, error):
    rng = np.random.default_rng(7)
    encodings = random_unit(rng, 9)
    owners = [3, 1, 3, 2, 1, 3, 2, 2, 1]
    gallery = Gallery(
        ((pid, f"p{pid}", enc) for pid, enc in zip(owners, encodings, strict=True)),
        rule="nearest",
        dtype=dtype,
    )
    probes = random_unit(rng, 4)
    got = gallery.person_distances(probes)
    for row, probe in zip(got, probes, strict=True):
        for column, pid in enumerate(gallery.person_ids):
            mine = [e for o, e in zip(owners, encodings, strict=True) if o == pid]
            assert row[column] == pytest.approx(
                min(np.linalg.norm(probe - e) for e in mine), abs=error
            )


def test_match_names_the_nearest_person_within_tolerance_else_unknown():
    rng = np.random.default_rng(1)
    alice, bob = random_unit(rng, 2)
    gallery = Gallery([(1, "Alice", alice), (2, "Bob", bob)])
    near_alice = alice + 0.01
    far_away = -alice
    faces = match_faces(
        [(0, 1, 1, 0), (0, 2, 2, 0)], [near_alice, far_away], gallery, tolerance=0.6
    )
    assert faces[0].label == "Alice"
    assert faces[0].best.distance < 0.2
    assert [c.name for c in faces[0].candidates] == ["Alice", "Bob"]
    assert faces[1].label == "Unknown"
    assert faces[1].match is None
    assert faces[1].best is not None  # the nearest stranger is kept, but not named


def test_match_against_an_empty_gallery_is_unknown():
    rng = np.random.default_rng(2)
    faces = match_faces([(0, 1, 1, 0)], random_unit(rng, 1), Gallery([]), 0.6)
    assert faces[0].label == "Unknown"
    assert faces[0].candidates == ()


# --- annotate and the whole pipeline --------------------------------------------------


def test_recognize_names_an_enrolled_face_and_draws_it(
    astronaut_jpeg, astronaut_face_jpeg
):
    _, encoding = encode_single_face(astronaut_face_jpeg, detect=HOG, max_pixels=LIMIT)
    gallery = Gallery([(7, "Eileen Collins", encoding)])
    result = recognize(
        astronaut_jpeg, gallery, tolerance=0.6, detect=HOG, max_pixels=LIMIT
    )
    named = [face for face in result.faces if face.match]
    assert [face.label for face in named] == ["Eileen Collins"]
    assert near(named[0].box, ASTRONAUT_FACE, 4)
    assert named[0].best.distance < 0.1
    assert set(result.timings) == {"decode", "detect", "encode", "match", "annotate"}
    drawn = np.asarray(Image.open(io.BytesIO(result.annotated_jpeg)))
    assert drawn.shape == (512, 512, 3)
    top, right, bottom, left = named[0].box
    # The box edge is painted green (JPEG keeps it close to the drawn colour).
    r, g, b = drawn[(top + bottom) // 2, left].astype(int)
    assert g > 140 and r < 110 and b < 110


def test_annotate_without_faces_returns_the_image():
    rgb = np.zeros((50, 80, 3), dtype=np.uint8)
    out = Image.open(io.BytesIO(annotate(rgb, [])))
    assert out.size == (80, 50)


def test_two_people_equally_near_make_an_ambiguous_verdict():
    rng = np.random.default_rng(3)
    alice = random_unit(rng, 1)[0]
    twin = alice + 0.002  # a look-alike enrolled under another name
    gallery = Gallery([(1, "Alice", alice), (2, "Twin", twin)])
    probe = alice + 0.02
    (face,) = match_faces([(0, 1, 1, 0)], [probe], gallery, 0.6, limit=1, margin=0.05)
    assert face.verdict == "ambiguous"
    assert face.match is None
    assert face.label == "Ambiguous"
    assert {c.name for c in face.candidates} == {"Alice", "Twin"}
    (clear,) = match_faces([(0, 1, 1, 0)], [probe], gallery, 0.6, limit=1, margin=0.0)
    assert clear.verdict == "match"
    assert clear.match.name == "Twin"  # the nearer one, when no margin is asked


def test_nearest_columns_matches_a_full_sort():
    rng = np.random.default_rng(4)
    distances = rng.random((5, 1000))

    got = nearest_columns(distances, 4)
    assert np.array_equal(got, np.argsort(distances, axis=1)[:, :4])
    assert np.array_equal(
        nearest_columns(distances[:, :3], 4), np.argsort(distances[:, :3], axis=1)
    )


@pytest.mark.parametrize("rule", ["mean2", "centroid"])
@pytest.mark.parametrize(("dtype", "error"), [(np.float32, 1e-5), (np.float64, 1e-9)])
def test_other_rules_equal_brute_force(rule, dtype, error):
    rng = np.random.default_rng(8)
    encodings = random_unit(rng, 7)
    owners = [5, 2, 5, 5, 9, 2, 2]
    gallery = Gallery(
        ((pid, f"p{pid}", enc) for pid, enc in zip(owners, encodings, strict=True)),
        rule=rule,
        dtype=dtype,
    )
    probes = random_unit(rng, 3)
    got = gallery.person_distances(probes)
    for row, probe in zip(got, probes, strict=True):
        for column, pid in enumerate(gallery.person_ids):
            mine = np.array(
                [e for o, e in zip(owners, encodings, strict=True) if o == pid]
            )
            if rule == "centroid":
                expected = np.linalg.norm(probe - mine.mean(axis=0))
            else:
                expected = np.mean(sorted(np.linalg.norm(mine - probe, axis=1))[:2])
            assert row[column] == pytest.approx(expected, abs=error)


def test_faces_too_small_to_trust_are_never_named():
    rng = np.random.default_rng(5)
    alice = random_unit(rng, 1)[0]
    gallery = Gallery([(1, "Alice", alice)])
    small, large = (0, 40, 40, 0), (0, 100, 100, 0)
    faces = match_faces([small, large], [alice, alice], gallery, 0.6, min_size=48)
    assert [face.verdict for face in faces] == ["unknown", "match"]
    assert faces[0].best.name == "Alice"  # the candidate is kept, just not named
