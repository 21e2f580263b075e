from __future__ import annotations

import json
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recognition.models import KnownFace, Person

pytestmark = pytest.mark.django_db


def evaluate(*args: str) -> dict:
    out = StringIO()
    call_command("evaluate", *args, "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def test_evaluate_the_shared_photos_with_the_default_settings(faces_dir, tmp_path):
    report = evaluate(str(faces_dir), "--report", str(tmp_path))
    assert (report["people"], report["enrolled_photos"], report["probes"]) == (
        36,
        69,
        100,
    )
    assert report["wrong"] == 0
    assert report["correct"] >= 95
    assert report["strangers_accepted"] <= 1
    assert report["noface_faces"] == 0
    assert report["group_named"]["ageitgey_obama_and_biden.jpg"] == [
        "Barack_Obama",
        "Joseph_Biden",
    ]
    assert report["group_named"]["ageitgey_kit_with_rose.jpg"] == [
        "Kit_Harington",
        "Rose_Leslie",
    ]
    assert report["recommended_tolerance"] is not None
    assert set(report["rules"]) == {"mean2", "nearest", "centroid"}
    assert (tmp_path / "distances.png").stat().st_size > 1000
    assert (
        json.loads((tmp_path / "report.json").read_text())["correct"]
        == report["correct"]
    )
    # The live gallery is never touched.
    assert not Person.objects.exists() and not KnownFace.objects.exists()


@pytest.fixture
def plain_folder(faces_dir, tmp_path):
    """Three people with several photos each, and one person with a single photo."""
    for name in ("Tony_Blair", "Celine_Dion", "Hugo_Chavez"):
        person = tmp_path / "people" / name
        shutil.copytree(faces_dir / "known" / name, person)
        for photo in (faces_dir / "probe" / name).iterdir():
            shutil.copy(photo, person / photo.name)
    single = tmp_path / "people" / "Jim_Spinoza"
    single.mkdir()
    shutil.copy(next((faces_dir / "unknown").glob("*Jim_Spinoza*")), single)
    return tmp_path / "people"


def test_a_plain_person_folder_is_split_into_enrolment_and_probes(plain_folder):
    report = evaluate(str(plain_folder))
    assert report["people"] == 3
    assert report["enrolled_photos"] == 3
    assert report["strangers"] == 1  # a single photo is not enrolled
    assert report["correct"] + report["rejected"] == report["probes"] > 0
    assert report["wrong"] == 0


def test_thresholds_not_met_fail_the_command(plain_folder):
    report = evaluate(str(plain_folder), "--min-correct", "1", "--max-wrong", "0")
    with pytest.raises(CommandError, match=r"correct \d+ \(--min-correct 999\)"):
        evaluate(str(plain_folder), "--min-correct", "999")
    assert report["correct"] >= 1


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        evaluate(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="no enrolment and probe photos"):
        evaluate(str(tmp_path / "empty"))
