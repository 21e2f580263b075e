"""Forget: afterwards no row and no file anywhere holds the person's names or
encodings (API DELETE /people/{id}, `manage.py forget_person`, the admin)."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import uuid
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.urls import reverse
from django_celery_results.models import TaskResult
from PIL import Image

from recognition import gallery, processing
from recognition.enrollment import enroll_photo
from recognition.models import AuditEntry, FaceObservation, Job, KnownFace, Person
from recognition.privacy import forget_person, lock_people, redact_faces
from recognition.uploads import create_job
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.django_db

FIRST_NAME = "Eileen Collins"
NEW_NAME = "Eileen Marie Collins"
DUPLICATE = "E. M. Collins"
NAMES = (FIRST_NAME, NEW_NAME, DUPLICATE)
PURPOSE = "Crew badge photos"


def finish(job: Job) -> Job:
    """Run the real pipeline on the job, as a worker would."""
    assert job.claim("test-worker")
    processing.process(job)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error
    return job


def recognise(data: bytes, filename: str) -> Job:
    gallery.invalidate()  # the test transaction never commits: publish by hand
    return finish(create_job(data, filename, uuid.uuid4()))


def spellings(names: tuple[str, ...]) -> list[str]:
    """Each name as stored text may hold it: as is, JSON-escaped, lower case."""
    forms = set()
    for name in names:
        forms |= {name, json.dumps(name)[1:-1], name.lower()}
    return sorted(forms)


def rows_mentioning(names: tuple[str, ...]) -> list[str]:
    """table.column of every cell, in every table, that holds one of the names."""
    needles = spellings(names)
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, bytes | memoryview):
                        text = bytes(value).decode("utf-8", "replace")
                    else:
                        text = str(value)
                    if any(needle.lower() in text.lower() for needle in needles):
                        found.append(f"{table}.{column}: {text[:80]}")
    return found


def files_mentioning(root: Path, names: tuple[str, ...]) -> list[str]:
    needles = [needle.encode() for needle in spellings(names)]
    return [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file()
        and any(needle.lower() in path.read_bytes().lower() for needle in needles)
    ]


def admin_change(admin_client, person: Person, **fields: str):
    faces = list(person.faces.all())
    data = {
        "name": person.name,
        "tolerance": "",
        "consent_given_by": person.consent_given_by,
        "consent_at_0": person.consent_at.strftime("%Y-%m-%d"),
        "consent_at_1": person.consent_at.strftime("%H:%M:%S"),
        "consent_purpose": person.consent_purpose,
        "faces-TOTAL_FORMS": str(len(faces)),
        "faces-INITIAL_FORMS": str(len(faces)),
        "faces-MIN_NUM_FORMS": "0",
        "faces-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for index, face in enumerate(faces):
        data[f"faces-{index}-id"] = str(face.pk)
        data[f"faces-{index}-person"] = str(person.pk)
    url = reverse("admin:recognition_person_change", args=[person.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]


@pytest.fixture
def history(api, admin_client, astronaut_jpeg, astronaut_face_jpeg, settings):
    """A person with a past: created with consent, enrolled, seen in jobs, renamed,
    merged with a duplicate, edited in the admin, mentioned in a Celery result."""
    created = api.post(
        "/api/v1/people",
        {
            "name": FIRST_NAME,
            "consent_given_by": FIRST_NAME,
            "consent_purpose": PURPOSE,
        },
        format="json",
    ).json()
    person = Person.objects.get(pk=created["id"])
    photo = io.BytesIO(astronaut_face_jpeg)
    photo.name = f"{FIRST_NAME}.jpg"
    assert api.post(created["links"]["faces"], {"image": photo}).status_code == 201

    before_rename = recognise(astronaut_jpeg, f"{FIRST_NAME} at NASA.jpg")
    api.patch(created["links"]["self"], {"name": NEW_NAME}, format="json")

    duplicate = Person.objects.create(name=DUPLICATE)
    enroll_photo(
        duplicate,
        jpeg_bytes(astronaut_face_jpeg_rgb(astronaut_face_jpeg), 80),
        confirm=True,
    )
    api.post(
        reverse("api:person-merge", args=[person.pk]),
        {"from": duplicate.pk},
        format="json",
    )
    person.refresh_from_db()
    admin_change(admin_client, person, consent_purpose=f"{PURPOSE} for {NEW_NAME}")

    after_rename = recognise(astronaut_jpeg, "crew.jpg")
    upload_gone = recognise(astronaut_jpeg, "old.jpg")
    default_storage.delete(upload_gone.image.name)
    TaskResult.objects.create(
        task_id="named", status="SUCCESS", result=json.dumps({"names": [NEW_NAME]})
    )
    TaskResult.objects.create(task_id="other", status="SUCCESS", result='{"job": 1}')
    return {
        "person": Person.objects.get(pk=person.pk),
        "jobs": [before_rename, after_rename, upload_gone],
        "encoding": KnownFace.objects.filter(person=person).first().vector,
    }


def astronaut_face_jpeg_rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_after_forget_no_row_and_no_file_holds_their_names_or_encodings(
    history, api, settings, django_capture_on_commit_callbacks
):
    person, jobs = history["person"], history["jobs"]
    media_root = Path(settings.MEDIA_ROOT)
    assert rows_mentioning(NAMES)  # the setup did leave traces
    results_before = {
        job.pk: default_storage.open(job.result_path).read() for job in jobs[:2]
    }
    assert all(job.recognized_name for job in jobs)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(reverse("api:person", args=[person.pk]))

    assert response.status_code == 204
    assert rows_mentioning(NAMES) == []
    assert files_mentioning(media_root, NAMES) == []
    # Encodings: no enrolled face, no seen face near theirs.
    assert not KnownFace.objects.exists()
    assert not list(media_root.glob("known_faces/*"))
    for observation in FaceObservation.objects.all():
        vector = np.frombuffer(bytes(observation.encoding), dtype=np.float64)
        assert np.linalg.norm(vector - history["encoding"]) > 0.6
    gallery.invalidate()
    assert gallery.current().people_count == 0
    # Their faces are redacted; the other face (the suit) keeps its box.
    for job in Job.objects.all():
        verdicts = [face["verdict"] for face in job.faces]
        assert "redacted" in verdicts and "unknown" in verdicts
        assert job.recognized_name == ""
        redacted = next(face for face in job.faces if face["verdict"] == "redacted")
        assert redacted["box"] is None and redacted["candidates"] == []
        stranger = next(face for face in job.faces if face["verdict"] == "unknown")
        assert stranger["box"] and stranger["candidates"] == []
        assert stranger["distance"] is None  # it was the distance to her
    # Annotated images re-drawn from the upload, or deleted when it is gone.
    for job in Job.objects.filter(pk__in=results_before):
        redrawn = default_storage.open(job.result_path).read()
        assert redrawn != results_before[job.pk]
        assert Image.open(io.BytesIO(redrawn)).size == (512, 512)
    gone = Job.objects.get(pk=jobs[2].pk)
    assert gone.result_path == ""
    assert not default_storage.exists(jobs[2].result_path)
    assert TaskResult.objects.filter(task_id="other").exists()
    # The audit row: who, when, counts; no name (checked above), no encoding.
    entry = AuditEntry.objects.get(action="forget")
    assert entry.actor.startswith("api-key:")
    assert entry.person_id_value == person.pk
    assert entry.details["faces"] == 2
    assert entry.details["jobs"] == 3
    assert entry.details["images_redrawn"] == 2
    assert entry.details["images_deleted"] == 1
    assert entry.details["task_results"] == 1
    assert all(isinstance(value, int) for value in entry.details.values())


def test_the_api_shows_redacted_faces_afterwards(history, api, admin_client):
    person = history["person"]
    api.delete(reverse("api:person", args=[person.pk]))

    job = admin_client.get(reverse("api:recognition", args=[history["jobs"][0].pk]))
    faces = job.json()["faces"]

    assert job.status_code == 200
    assert {face["verdict"] for face in faces} == {"redacted", "unknown"}
    assert api.get(reverse("api:person", args=[person.pk])).status_code == 404


def test_the_command_forgets_by_name_or_id(astronaut_face_jpeg):
    person = Person.objects.create(name=FIRST_NAME)
    enroll_photo(person, astronaut_face_jpeg)
    out = StringIO()

    call_command("forget_person", FIRST_NAME, stdout=out)

    assert f"Forgot person {person.pk}: faces 1" in out.getvalue()
    assert not Person.objects.exists()
    entry = AuditEntry.objects.get(action="forget")
    assert entry.actor.startswith("command:forget_person")
    with pytest.raises(CommandError, match="No person"):
        call_command("forget_person", str(person.pk))


def test_the_admin_action_asks_then_forgets(admin_client, astronaut_face_jpeg):
    person = Person.objects.create(name=FIRST_NAME)
    enroll_photo(person, astronaut_face_jpeg)
    url = reverse("admin:recognition_person_changelist")
    data = {"action": "forget_people", "_selected_action": [person.pk]}

    asked = admin_client.post(url, data)
    assert asked.status_code == 200
    assert "Yes, forget them" in asked.content.decode()
    assert Person.objects.exists()

    done = admin_client.post(url, {**data, "confirmed": "yes"})

    assert done.status_code == 302
    assert not Person.objects.exists()
    assert AuditEntry.objects.get(action="forget").actor == "user:admin"


def test_deleting_a_person_in_the_admin_forgets_them(admin_client, astronaut_face_jpeg):
    person = Person.objects.create(name=FIRST_NAME)
    enroll_photo(person, astronaut_face_jpeg)
    url = reverse("admin:recognition_person_delete", args=[person.pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert AuditEntry.objects.filter(
        action="forget", person_id_value=person.pk
    ).exists()
    assert not LogEntry.objects.filter(object_repr__icontains="Eileen").exists()


def test_forgetting_twice_changes_nothing_the_second_time(astronaut_face_jpeg):
    person = Person.objects.create(name=FIRST_NAME)
    enroll_photo(person, astronaut_face_jpeg)
    forget_person(person, "test")

    assert not Person.objects.filter(name=FIRST_NAME).exists()
    with pytest.raises(CommandError):
        call_command("forget_person", FIRST_NAME)
    assert AuditEntry.objects.filter(action="forget").count() == 1


def test_redaction_keeps_other_faces_and_drops_only_their_candidates():
    faces = [
        {"name": "Ann", "person_id": 1, "distance": 0.3, "verdict": "match",
         "box": [1, 2, 3, 4], "candidates": [
             {"person_id": 1, "name": "Ann", "distance": 0.3},
             {"person_id": 2, "name": "Bob", "distance": 0.5}]},
        {"name": "Bob", "person_id": 2, "distance": 0.2, "verdict": "match",
         "box": [5, 6, 7, 8], "candidates": [
             {"person_id": 2, "name": "Bob", "distance": 0.2},
             {"person_id": 1, "name": "Ann", "distance": 0.55}]},
    ]  # fmt: skip

    redacted, positions = redact_faces(faces, {1})

    assert positions == [0]
    assert redacted[0]["verdict"] == "redacted" and redacted[0]["box"] is None
    assert redacted[1]["name"] == "Bob" and redacted[1]["box"] == [5, 6, 7, 8]
    assert [c["name"] for c in redacted[1]["candidates"]] == ["Bob"]
    assert hashlib.sha256(json.dumps(redacted).encode()).hexdigest()


def test_a_job_recorded_after_the_forget_by_a_worker_with_an_older_gallery_is_redacted(
    astronaut_jpeg, astronaut_face_jpeg, monkeypatch
):
    person = Person.objects.create(name=FIRST_NAME)
    person_id = person.pk
    enroll_photo(person, astronaut_face_jpeg)
    gallery.invalidate()
    older = gallery.current()  # what a worker loaded before the forget
    assert person_id in older.names
    job = create_job(astronaut_jpeg, "during.jpg", uuid.uuid4())
    assert job.claim("test-worker")
    forget_person(person, "test")
    # The worker runs the job with the gallery it had (its reload comes next job).
    monkeypatch.setattr(gallery, "current", lambda: older)

    processing.process(job)

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error
    assert job.face_count >= 1
    assert job.recognized_name == ""
    assert all(face.get("person_id") != person_id for face in job.faces)
    assert not any(
        c.get("person_id") == person_id for f in job.faces for c in f["candidates"]
    )
    assert not FaceObservation.objects.filter(job=job).exclude(candidate=None).exists()
    assert rows_mentioning((FIRST_NAME,)) == []
    assert default_storage.exists(job.result_path)  # re-drawn without the name


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_forget_waits_for_a_worker_recording_a_job_that_names_them(
    astronaut_jpeg,
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite runs one writing transaction at a time")
    person_id = Person.objects.create(name=FIRST_NAME).pk
    job = create_job(astronaut_jpeg, "during.jpg", uuid.uuid4())
    named = {
        "name": FIRST_NAME,
        "person_id": person_id,
        "distance": 0.3,
        "verdict": "match",
        "box": [10, 60, 60, 10],
        "candidates": [{"person_id": person_id, "name": FIRST_NAME, "distance": 0.3}],
    }
    locked, times = threading.Event(), {}

    def worker() -> None:
        """Records a job naming them, as processing.run does, slowly."""
        try:
            with transaction.atomic():
                assert lock_people({person_id}) == {person_id}
                locked.set()
                time.sleep(1.0)  # the forget is asked for meanwhile
                Job.objects.filter(pk=job.pk).update(
                    status=Job.Status.SUCCESS,
                    faces=[named],
                    face_count=1,
                    recognized_name=FIRST_NAME,
                )
                times["worker"] = time.monotonic()
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    assert locked.wait(10)
    forget_person(Person.objects.get(pk=person_id), "test")
    times["forget"] = time.monotonic()
    thread.join(10)

    # The forget waited for the worker's transaction, then found and redacted its job.
    assert times["forget"] > times["worker"]
    job.refresh_from_db()
    assert job.recognized_name == ""
    assert job.faces[0].get("person_id") is None and not job.faces[0]["candidates"]
