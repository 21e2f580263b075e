from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recognition import gallery
from recognition.enrollment import enroll_photo
from recognition.models import Calibration, Person
from recognition.tasks import recalibrate

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrolled(faces_dir):
    for folder in sorted((faces_dir / "known").iterdir()):
        person = Person.objects.create(name=folder.name)
        for photo in sorted(folder.iterdir()):
            enroll_photo(person, photo.read_bytes(), confirm=True)
    gallery.invalidate()


def test_calibrate_proposes_then_applies_a_tolerance(enrolled):
    out = StringIO()
    call_command("calibrate", stdout=out)
    assert "36 people, 69 stranger searches, 66 genuine searches." in out.getvalue()
    proposed = Calibration.objects.get()
    assert not proposed.applied
    assert 0.45 <= proposed.tolerance <= 0.60
    assert gallery.current().tolerance == 0.6  # the setting, until applied

    call_command("calibrate", "--apply", stdout=StringIO())
    applied = Calibration.objects.get(applied=True)
    assert applied.tolerance == proposed.tolerance
    assert gallery.current().tolerance == applied.tolerance


def test_the_operator_pins_the_bounds(enrolled):
    call_command(
        "calibrate", "--min", "0.59", "--max", "0.6", "--apply", stdout=StringIO()
    )
    assert Calibration.objects.get(applied=True).tolerance >= 0.59


def test_the_beat_task_follows_the_gallery_unless_turned_off(enrolled, settings):
    settings.FACESITE_AUTO_CALIBRATE = False
    assert recalibrate()["applied"] is False
    settings.FACESITE_AUTO_CALIBRATE = True
    assert recalibrate()["applied"] is True
    assert recalibrate()["applied"] is False  # nothing changed since


def test_calibrate_needs_two_people(astronaut_face_jpeg):
    enroll_photo(Person.objects.create(name="Only"), astronaut_face_jpeg)
    with pytest.raises(CommandError, match="at least two enrolled people"):
        call_command("calibrate", stdout=StringIO())
    with pytest.raises(CommandError, match="Bounds"):
        call_command("calibrate", "--min", "0.7", "--max", "0.5", stdout=StringIO())
