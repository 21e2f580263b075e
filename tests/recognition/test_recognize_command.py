from __future__ import annotations

import json
import shutil
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitoring.models import PerformanceStat
from recognition.enrollment import enroll_photo
from recognition.models import Job, Person
from tests.conftest import point_celery_at

pytestmark = pytest.mark.django_db


def recognize(path, *args: str) -> str:
    out = StringIO()
    call_command("recognize", str(path), *args, stdout=out)
    return out.getvalue()


def recognize_json(path, *args: str) -> dict[str, dict]:
    return {item["path"]: item for item in json.loads(recognize(path, "--json", *args))}


@pytest.fixture
def eileen(astronaut_face_jpeg, django_capture_on_commit_callbacks):
    # The test transaction never commits: run the on-commit gallery invalidation.
    with django_capture_on_commit_callbacks(execute=True):
        person = Person.objects.create(name="Eileen Collins")
        enroll_photo(person, astronaut_face_jpeg, "eileen.jpg")
    return person


@pytest.fixture
def photos(tmp_path, astronaut_jpeg):
    root = tmp_path / "photos"
    (root / "space" / "deeper").mkdir(parents=True)
    (root / "space" / "deeper" / "Astronaut.JPG").write_bytes(astronaut_jpeg)
    (root / "notes.png").write_text("not a picture")
    (root / "readme.txt").write_text("ignored: not an image extension")
    (root / ".hidden.jpg").write_bytes(astronaut_jpeg)
    return root


def test_sequential_json_names_the_enrolled_astronaut(eileen, photos):
    results = recognize_json(photos)

    assert list(results) == ["notes.png", "space/deeper/Astronaut.JPG"]
    found = results["space/deeper/Astronaut.JPG"]
    assert found["status"] == "SUCCESS"
    assert found["error"] is None
    names = [face["name"] for face in found["faces"]]
    assert "Eileen Collins" in names
    best = next(face for face in found["faces"] if face["name"] == "Eileen Collins")
    assert 0 <= best["distance"] < 0.6
    assert len(best["box"]) == 4
    job = Job.objects.get(pk=found["job_id"])
    assert job.status == Job.Status.SUCCESS
    assert job.worker_name.startswith("local@")
    assert job.result_path
    assert found["duration"] == job.duration

    refused = results["notes.png"]
    assert refused["status"] == "FAILURE"
    assert "not a supported image" in refused["error"]
    assert refused["faces"] == []
    assert refused["job_id"] is None


def test_a_run_records_its_performance(eileen, photos):
    results = recognize_json(photos)

    stat = PerformanceStat.objects.get()
    assert stat.mode == PerformanceStat.Mode.SEQUENTIAL
    assert stat.num_images == 2
    assert stat.num_workers == 1
    assert stat.failures == 1
    assert stat.faces_found == len(results["space/deeper/Astronaut.JPG"]["faces"])
    assert stat.total_time > 0
    assert stat.avg_time == pytest.approx(stat.total_time / 2)
    assert stat.source == str(photos)


def test_human_output_has_one_line_per_image_and_a_summary(eileen, photos):
    lines = recognize(photos).splitlines()

    assert len(lines) == 3
    assert lines[0].startswith("notes.png  FAILURE  ")
    assert lines[1].startswith("space/deeper/Astronaut.JPG  SUCCESS  ")
    assert "Eileen Collins (0." in lines[1]
    assert lines[2].startswith("2 images in ")
    assert "sequential" in lines[2]
    assert lines[2].endswith("1 failure")


def test_an_oversized_file_is_reported_not_dropped(photos, settings):
    settings.FACESITE_MAX_UPLOAD_BYTES = 1000
    results = recognize_json(photos)

    assert results["space/deeper/Astronaut.JPG"]["status"] == "FAILURE"
    assert "the limit is 1,000" in results["space/deeper/Astronaut.JPG"]["error"]
    assert Job.objects.count() == 0


def test_a_missing_folder_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        recognize(tmp_path / "nowhere")


def test_a_folder_without_images_is_a_command_error(tmp_path):
    (tmp_path / "readme.txt").write_text("no pictures here")
    with pytest.raises(CommandError, match="holds no image files"):
        recognize(tmp_path)
    assert PerformanceStat.objects.count() == 0


def test_distributed_without_redis_fails_fast(photos, broker_down):
    started = time.monotonic()
    with pytest.raises(CommandError, match="Cannot reach Redis"):
        recognize(photos, "--mode", "distributed")
    assert time.monotonic() - started < 5
    assert Job.objects.count() == 0
    assert PerformanceStat.objects.count() == 0


@pytest.fixture
def broker_without_workers():
    """An in-memory broker: it accepts messages, but no worker will ever answer."""
    previous = point_celery_at("memory://localhost/")
    yield
    point_celery_at(previous)


def test_distributed_without_workers_says_to_start_them(photos, broker_without_workers):
    started = time.monotonic()
    with pytest.raises(CommandError, match="No Celery worker answered") as error:
        recognize(photos, "--mode", "distributed")
    assert "make run" in str(error.value)
    assert "celery -A facesite worker" in str(error.value)
    assert time.monotonic() - started < 5
    assert Job.objects.count() == 0


# --- Real photographs (../shared/faces) ----------------------------------------

PEOPLE = ("Tony_Blair", "Celine_Dion", "Carlos_Moya", "Hugo_Chavez")


@pytest.fixture
def enrolled_people(faces_dir, tmp_path, django_capture_on_commit_callbacks):
    known = tmp_path / "known"
    for name in PEOPLE:
        shutil.copytree(faces_dir / "known" / name, known / name)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("enroll_faces", str(known), stdout=StringIO())
    assert set(Person.objects.values_list("name", flat=True)) == set(PEOPLE)


def test_probe_photos_get_the_right_names(enrolled_people, faces_dir, tmp_path):
    probes = tmp_path / "probe"
    for name in PEOPLE:
        first = sorted((faces_dir / "probe" / name).iterdir())[0]
        (probes / name).mkdir(parents=True)
        shutil.copy(first, probes / name / first.name)

    results = recognize_json(probes)

    assert len(results) == len(PEOPLE)
    for path, result in results.items():
        assert result["status"] == "SUCCESS", result
        assert [face["name"] for face in result["faces"]] == [path.split("/")[0]]


def test_photos_without_faces_succeed_with_no_faces(enrolled_people, faces_dir):
    noface = faces_dir / "noface"
    results = recognize_json(noface)

    assert len(results) == len(list(noface.iterdir()))
    for result in results.values():
        assert result["status"] == "SUCCESS", result
        assert result["faces"] == []
    assert PerformanceStat.objects.get().faces_found == 0
