"""The pipeline on the shared labelled photos: the figures the product promises."""

from __future__ import annotations

import pytest

from recognition.pipeline import (
    DetectOptions,
    Gallery,
    detect_faces,
    encode_single_face,
    load_image,
    recognize,
)

LIMIT = 40_000_000
OPTIONS = DetectOptions()


def images(folder):
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}
    )


@pytest.fixture(scope="module")
def gallery(faces_dir):
    rows = []
    names = sorted(p.name for p in (faces_dir / "known").iterdir())
    for pid, name in enumerate(names, start=1):
        for path in images(faces_dir / "known" / name):
            _, encoding = encode_single_face(
                path.read_bytes(), detect=OPTIONS, max_pixels=LIMIT
            )
            rows.append((pid, name, encoding))
    return Gallery(rows)


def run(path, gallery, tolerance):
    return recognize(
        path.read_bytes(),
        gallery,
        tolerance=tolerance,
        detect=OPTIONS,
        max_pixels=LIMIT,
    )


def test_every_known_photo_enrols_with_exactly_one_face(gallery, faces_dir):
    assert len(gallery) == len(images(faces_dir / "known")) == 69
    assert gallery.people_count == 36


def test_every_probe_is_nearest_to_the_right_person(gallery, faces_dir):
    wrong, rejected = [], []
    probes = images(faces_dir / "probe")
    for path in probes:
        (face,) = run(path, gallery, 0.6).faces
        if face.best.name != path.parent.name:
            wrong.append(path.name)
        elif face.match is None:
            rejected.append(path.name)
    assert len(probes) == 100
    assert wrong == []
    assert rejected == []


def test_strangers_are_unknown_at_a_strict_tolerance(gallery, faces_dir):
    accepted = [
        path.name
        for path in images(faces_dir / "unknown")
        if any(face.match for face in run(path, gallery, 0.5).faces)
    ]
    assert accepted == []


def test_no_faces_in_the_noface_photos(faces_dir):
    found = {
        path.name: len(detect_faces(load_image(path.read_bytes(), LIMIT), OPTIONS))
        for path in images(faces_dir / "noface")
    }
    assert set(found.values()) == {0}, found


@pytest.mark.parametrize(
    ("photo", "people"),
    [
        ("ageitgey_two_people.jpg", {"Barack_Obama", "Joseph_Biden"}),
        ("ageitgey_obama_and_biden.jpg", {"Barack_Obama", "Joseph_Biden"}),
        ("ageitgey_kit_with_rose.jpg", {"Kit_Harington", "Rose_Leslie"}),
    ],
)
def test_enrolled_people_are_found_in_group_photos(gallery, faces_dir, photo, people):
    result = run(faces_dir / "group" / photo, gallery, 0.6)
    assert {face.match.name for face in result.faces if face.match} >= people


def test_detection_finds_as_many_faces_as_the_reference_counts(faces_dir):
    import csv

    with open(faces_dir / "detections.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["category"] == "group"]
    found = sum(
        len(
            detect_faces(
                load_image((faces_dir / r["path"]).read_bytes(), LIMIT), OPTIONS
            )
        )
        for r in rows
    )
    assert found >= sum(int(r["hog_faces"]) for r in rows)


def test_no_stranger_in_a_crowd_is_named_with_the_default_rules(gallery, faces_dir):
    from django.conf import settings

    enrolled_in = {
        "ageitgey_two_people.jpg",
        "ageitgey_obama_and_biden.jpg",
        "ageitgey_kit_with_rose.jpg",
    }
    named = {}
    for path in images(faces_dir / "group"):
        result = recognize(
            path.read_bytes(),
            gallery,
            tolerance=settings.FACESITE_TOLERANCE,
            detect=OPTIONS,
            max_pixels=LIMIT,
            margin=settings.FACESITE_AMBIGUITY_MARGIN,
            min_size=settings.FACESITE_MIN_IDENTIFY_SIZE,
        )
        if any(face.match for face in result.faces):
            named[path.name] = sorted(
                face.match.name for face in result.faces if face.match
            )
    assert set(named) == enrolled_in, named
