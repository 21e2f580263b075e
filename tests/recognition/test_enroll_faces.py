from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from recognition.models import KnownFace, Person
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.django_db


def enroll(path) -> str:
    out = StringIO()
    call_command("enroll_faces", str(path), stdout=out)
    return out.getvalue()


@pytest.fixture
def folder(tmp_path, astronaut_face_jpeg, astronaut_jpeg):
    root = tmp_path / "people"
    (root / "Eileen Collins").mkdir(parents=True)
    (root / "Eileen Collins" / "face.jpg").write_bytes(astronaut_face_jpeg)
    (root / "Eileen Collins" / "same-again.jpg").write_bytes(astronaut_face_jpeg)
    (root / "Eileen Collins" / "with-suit.jpg").write_bytes(astronaut_jpeg)
    (root / "Eileen Collins" / ".DS_Store").write_bytes(b"\0\0")
    (root / "Nobody").mkdir()
    (root / "Nobody" / "notes.jpg").write_text("just some text")
    (root / "loose.jpg").write_bytes(astronaut_face_jpeg)
    return root


def test_enrols_each_usable_photo_and_reports_the_others(folder):
    output = enroll(folder)

    lines = output.splitlines()
    assert "enrolled  Eileen Collins/face.jpg  -> Eileen Collins" in lines
    assert (
        "skipped   Eileen Collins/same-again.jpg  "
        "(This photo is already enrolled for Eileen Collins)" in lines
    )
    assert any(
        line.startswith("skipped   Eileen Collins/with-suit.jpg  (2 faces")
        for line in lines
    )
    assert any(
        line.startswith("skipped   Nobody/notes.jpg  (The file is not a supported")
        for line in lines
    )
    assert "skipped   loose.jpg  (not in a person folder)" in lines
    assert ".DS_Store" not in output
    assert lines[-1] == "1 enrolled, 4 skipped, 1 people"

    face = KnownFace.objects.get()
    assert face.person.name == "Eileen Collins"
    assert face.source_name == "Eileen Collins/face.jpg"
    assert face.vector.shape == (128,)
    assert default_storage.exists(face.image.name)
    # A folder with no usable photo leaves no empty person behind.
    assert list(Person.objects.values_list("name", flat=True)) == ["Eileen Collins"]


def test_running_it_again_enrols_nothing_new(folder):
    enroll(folder)
    output = enroll(folder)

    assert "enrolled  " not in output
    assert output.splitlines()[-1] == "0 enrolled, 5 skipped, 1 people"
    assert KnownFace.objects.count() == 1
    assert Person.objects.count() == 1


def test_an_existing_person_gets_more_photos(folder, astronaut_rgb):
    person = Person.objects.create(name="Eileen Collins")
    (folder / "Eileen Collins" / "other.jpg").write_bytes(
        jpeg_bytes(astronaut_rgb[:300], quality=70)
    )
    output = enroll(folder)

    assert output.splitlines()[-1] == "2 enrolled, 4 skipped, 1 people"
    assert set(person.faces.values_list("source_name", flat=True)) == {
        "Eileen Collins/face.jpg",
        "Eileen Collins/other.jpg",
    }


def test_an_oversized_file_is_skipped(folder, settings):
    settings.FACESITE_MAX_UPLOAD_BYTES = 1000
    output = enroll(folder)

    assert "skipped   Eileen Collins/face.jpg  (" in output
    assert "the limit is 1,000" in output
    assert KnownFace.objects.count() == 0
    assert Person.objects.count() == 0


def test_a_missing_folder_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        enroll(tmp_path / "nowhere")


def test_a_file_instead_of_a_folder_is_a_command_error(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"x")
    with pytest.raises(CommandError, match="is not a folder"):
        enroll(path)


def test_a_folder_without_person_folders_is_a_command_error(
    tmp_path, astronaut_face_jpeg
):
    (tmp_path / "face.jpg").write_bytes(astronaut_face_jpeg)
    (tmp_path / ".git").mkdir()
    with pytest.raises(CommandError, match="holds no person folders"):
        enroll(tmp_path)
    assert Person.objects.count() == 0
