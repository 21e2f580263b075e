from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from monitoring import peer
from monitoring.management.commands.benchmark import Command, Run
from monitoring.models import PerformanceStat
from recognition.enrollment import enroll_photo
from recognition.management.commands.recognize import Item
from recognition.models import Job, Person
from recognition.privacy import drop_enrolment_photos

pytestmark = pytest.mark.django_db


@pytest.fixture
def photos(tmp_path, astronaut_jpeg) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(astronaut_jpeg)
    (folder / "sub" / "b.jpg").write_bytes(astronaut_jpeg)
    (folder / "broken.jpg").write_bytes(b"not an image at all")
    return folder


def test_a_sequential_run_is_timed_recorded_and_printed(photos, capsys):
    call_command("benchmark", str(photos), "--modes", "sequential")

    out = capsys.readouterr().out
    stat = PerformanceStat.objects.get()
    assert (stat.mode, stat.num_images, stat.failures) == ("sequential", 3, 1)
    assert stat.faces_found == 4  # two per astronaut photo with HOG
    assert stat.source == str(photos.resolve())
    assert f"Benchmark: 3 images under {photos.resolve()}" in out
    assert "sequential  run 1: 3 images in" in out
    assert "4 faces, 1 failures" in out
    assert Job.objects.filter(status=Job.Status.SUCCESS).count() == 2


def test_repeats_record_a_row_each_and_json_has_the_figures(photos, capsys):
    call_command(
        "benchmark", str(photos), "--modes", "sequential", "--repeat", "2", "--json"
    )

    report = json.loads(capsys.readouterr().out)
    runs = report["runs"]["sequential"]
    assert PerformanceStat.objects.count() == 2
    assert [run["images"] for run in runs] == [3, 3]
    assert runs[0]["images_per_second"] > 0
    assert runs[0]["pipeline_seconds_per_image"] > 0
    assert report["ratio"] is None  # no distributed run to compare with


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["/no/such/folder"], "does not exist"),
        (["{photos}", "--modes", "parallel"], "--modes takes"),
        (["{photos}", "--repeat", "0"], "--repeat must be at least 1"),
        (["{photos}", "--modes", "distributed"], "Cannot reach Redis"),
        (["{photos}", "--modes", "sequential", "--peer"], "Cannot reach Redis"),
    ],
)
def test_bad_arguments_and_a_missing_broker_stop_the_command(
    photos, arguments, message
):
    arguments = [a.format(photos=photos) for a in arguments]

    with pytest.raises(CommandError, match=message):
        call_command("benchmark", *arguments)
    assert not PerformanceStat.objects.exists()


def test_the_peer_cli_runs_on_the_same_images_and_people(
    photos, astronaut_face_jpeg, django_capture_on_commit_callbacks
):
    # The commit hook tells the gallery to reload, as it does outside a test.
    with django_capture_on_commit_callbacks(execute=True):
        enroll_photo(Person.objects.create(name="Eileen Collins"), astronaut_face_jpeg)
    images = [photos / "a.jpg", photos / "sub" / "b.jpg"]
    ours = Command().run_mode("sequential", images, photos, 0, 60)

    result = peer.run_cli(images, photos, 1, 0.6)
    comparison = peer.compare(ours, result, {})

    assert result.known_photos == 1
    assert set(result.faces) == {"a.jpg", "sub/b.jpg"}
    assert result.names["a.jpg"] == {"Eileen Collins"}
    assert comparison["images"] == 2
    assert comparison["faces_ours"] == 4
    assert comparison["faces_cli"] == sum(result.faces.values()) >= 2
    assert comparison["names_same"] == 2, comparison["names_differ"]
    assert comparison["names_ours"] == comparison["names_cli"] == ["Eileen Collins"]
    assert comparison["cli_images_per_second"] > 0
    assert comparison["ratio"] == pytest.approx(
        ours.per_second / comparison["cli_images_per_second"], rel=0.01
    )
    lines = peer.describe(ours, result, comparison)
    assert lines[0].startswith("CLI with its scan of 1 known photos: 2 images in")


def test_ground_truth_comes_from_the_manifest(tmp_path):
    (tmp_path / "MANIFEST.csv").write_text(
        "path,person,source_repo,source_path,license_note\n"
        "known/Ada/1.jpg,Ada,r,p,l\n"
        "probe/Ada/2.jpg,Ada,r,p,l\n"
        "unknown/x.jpg,Somebody Else,r,p,l\n"
        "noface/cup.jpg,,r,p,l\n"
        "group/many.jpg,,r,p,l\n"
    )

    assert peer.ground_truth(tmp_path) == {
        "known/Ada/1.jpg": {"Ada"},
        "probe/Ada/2.jpg": {"Ada"},
        "unknown/x.jpg": set(),
        "noface/cup.jpg": set(),
    }
    assert peer.ground_truth(tmp_path / "elsewhere") == {}


def test_enrolled_photos_no_longer_kept_are_left_out_of_the_peers_known_folder(
    tmp_path, settings, astronaut_face_jpeg
):
    enroll_photo(Person.objects.create(name="Eileen Collins"), astronaut_face_jpeg)
    settings.FACESITE_KEEP_ENROLMENT_PHOTOS = False
    assert drop_enrolment_photos() == 1  # the encoding stays, the file goes
    settings.FACESITE_KEEP_ENROLMENT_PHOTOS = True
    buffer = io.BytesIO()
    Image.open(io.BytesIO(astronaut_face_jpeg)).save(buffer, "JPEG", quality=80)
    enroll_photo(Person.objects.create(name="Kept"), buffer.getvalue(), confirm=True)

    people, missing = peer.export_known(tmp_path / "known")

    assert missing == 1
    assert list(people.values()) == ["Kept"]
    assert sorted(p.name for p in (tmp_path / "known").iterdir()) == [
        f"{stem}.jpg" for stem in people
    ]


def test_the_time_around_the_pipeline_is_split_per_job_and_per_slot():
    # Two slots, two jobs each: 40 ms of stages in a 50 ms claim-to-finish. Slots
    # are not recorded: a job goes to the slot freed last before it started, so the
    # jobs at 80 and 90 ms follow those ending at 60 and 50 ms (gaps 20 and 40 ms).
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def job(start_ms: int) -> Item:
        start = t0 + timedelta(milliseconds=start_ms)
        return Item(
            f"{start_ms}.jpg",
            Job(
                timings={"detect": 0.03, "encode": 0.01},
                duration=0.05,
                start_time=start,
                end_time=start + timedelta(milliseconds=50),
            ),
        )

    run = Run("distributed", 2, 0.2, [job(0), job(10), job(80), job(90)])

    assert run.gaps() == pytest.approx([0.02, 0.04])
    each = run.per_job()
    assert each["pipeline"] == pytest.approx(0.04)
    assert each["bookkeeping"] == pytest.approx(0.01)
    assert each["gap"] == pytest.approx(0.03)
    assert each["share"] == pytest.approx(1.0)  # 40 ms around 40 ms of stages
    assert each["share_of_job"] == pytest.approx(0.5)  # of 80 ms a job on its slot
