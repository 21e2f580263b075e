from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from recognition import gallery, processing
from recognition.enrollment import enroll_photo
from recognition.models import Job, Person

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/"
GENERATED_NAME = re.compile(r"uploads/[0-9a-f]{32}\.jpg")


def photo(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return []
    return sorted(
        str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()
    )


def post(client, files, **headers):
    return client.post(UPLOAD_URL, {"images": files}, headers=headers)


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("uploader")


@pytest.fixture
def client(client, user):
    """Pages need a login (tests/security covers who may see what)."""
    client.force_login(user)
    return client


@pytest.fixture
def enrolled_astronaut(astronaut_face_jpeg) -> Person:
    person = Person.objects.create(name="Eileen Collins")
    enroll_photo(person, astronaut_face_jpeg, "collins.jpg")
    # The test transaction never commits, so publish the new gallery version here.
    gallery.invalidate()
    return person


def finish(job: Job) -> Job:
    """Run the real pipeline on the job, as a worker would."""
    assert job.claim("test-worker")
    processing.process(job)
    job.refresh_from_db()
    return job


# --- Upload ----------------------------------------------------------------------


def test_upload_page_has_the_form(client):
    response = client.get(reverse("recognition:upload"))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="images"' in html
    assert "multiple" in html
    assert 'enctype="multipart/form-data"' in html
    assert "/static/css/site.css" in html
    assert "/static/js/upload.js" in html


def test_upload_creates_a_job_under_a_generated_name(
    client, settings, astronaut_jpeg, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, [photo(astronaut_jpeg, "../../evil.jpg")])

    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "recognition:submission", args=[job.submission]
    )
    assert job.status == Job.Status.PENDING
    assert job.priority == Job.Priority.HIGH  # one photo: someone is waiting
    assert job.filename == "evil.jpg"
    assert GENERATED_NAME.fullmatch(job.image.name)
    assert stored_files(settings) == [job.image.name]
    with default_storage.open(job.image.name, "rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    # Stored stripped of metadata (tests/security/test_upload_hardening.py).
    assert (stored.format, stored.size) == ("JPEG", (512, 512))
    assert len(callbacks) == 1


def test_several_files_become_jobs_of_one_submission(
    client, settings, astronaut_jpeg, django_capture_on_commit_callbacks
):
    names = ["one.jpg", "two.jpg", "three.jpg"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, [photo(astronaut_jpeg, name) for name in names])

    jobs = list(Job.objects.order_by("pk"))
    assert response.status_code == 302
    assert [job.filename for job in jobs] == names
    assert {job.priority for job in jobs} == {Job.Priority.NORMAL}
    assert len({job.submission for job in jobs}) == 1
    assert len({job.image.name for job in jobs}) == 3
    assert len(stored_files(settings)) == 3
    assert len(callbacks) == 3


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (photo(b"just some notes", "notes.txt", "text/plain"), "not a supported image"),
        (photo(b"", "empty.jpg"), "empty.jpg is empty"),
    ],
    ids=["text", "empty"],
)
def test_a_file_that_is_no_photo_is_refused(
    client, settings, upload, message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, [upload])

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists()
    assert stored_files(settings) == []
    assert callbacks == []


def test_refused_files_are_reported_and_the_others_accepted(
    client, astronaut_jpeg, django_capture_on_commit_callbacks
):
    files = [photo(astronaut_jpeg, "good.jpg"), photo(b"hello", "notes.txt")]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, files)

    assert response.status_code == 302
    assert [job.filename for job in Job.objects.all()] == ["good.jpg"]
    assert len(callbacks) == 1
    page = client.get(response["Location"]).content.decode()
    assert "notes.txt is not a supported image" in page
    assert "good.jpg" in page


def test_no_file_at_all_is_a_form_error(client):
    response = client.post(UPLOAD_URL, {})

    assert response.status_code == 400
    assert "Choose at least one photo." in response.content.decode()


def test_more_files_than_allowed_are_refused(client, settings, astronaut_jpeg):
    settings.FACESITE_MAX_FILES_PER_UPLOAD = 2

    response = post(client, [photo(astronaut_jpeg, f"{i}.jpg") for i in range(3)])

    assert response.status_code == 400
    assert "at most 2" in response.content.decode()
    assert not Job.objects.exists()
    assert stored_files(settings) == []


def test_json_upload_answers_with_the_redirect_and_refusals(
    client, astronaut_jpeg, django_capture_on_commit_callbacks
):
    files = [photo(astronaut_jpeg, "good.jpg"), photo(b"", "empty.png")]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, files, accept="application/json")

    job = Job.objects.get()
    assert response.status_code == 200
    assert response.json() == {
        "redirect": reverse("recognition:submission", args=[job.submission]),
        "accepted": 1,
        "refused": [{"filename": "empty.png", "error": "empty.png is empty."}],
    }
    assert len(callbacks) == 1


def test_json_upload_with_nothing_valid_is_a_400(client, settings):
    response = post(
        client, [photo(b"<svg/>", "x.svg", "image/svg+xml")], accept="application/json"
    )

    body = response.json()
    assert response.status_code == 400
    assert body["redirect"] is None
    assert body["accepted"] == 0
    assert body["refused"][0]["filename"] == "x.svg"
    assert "not a supported image" in body["refused"][0]["error"]
    assert body["errors"]
    assert not Job.objects.exists()
    assert stored_files(settings) == []


# --- Results ---------------------------------------------------------------------


def test_results_show_the_names_and_distances_of_a_finished_job(
    client, astronaut_jpeg, enrolled_astronaut, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = post(client, [photo(astronaut_jpeg, "astronaut.jpg")])
    job = Job.objects.get()
    status_url = reverse("recognition:submission_status", args=[job.submission])

    before = client.get(status_url).json()
    assert before["done"] is False
    assert before["jobs"][0]["status"] == "PENDING"
    assert before["jobs"][0]["result_url"] is None

    job = finish(job)
    assert job.status == Job.Status.SUCCESS

    after = client.get(status_url).json()
    assert after["done"] is True
    data = after["jobs"][0]
    assert data["status"] == "SUCCESS"
    assert data["result_url"] == reverse("recognition:media", args=[job.result_path])
    collins = [face for face in data["faces"] if face["name"] == "Eileen Collins"]
    assert len(collins) == 1
    assert collins[0]["label"] == "Eileen Collins"
    assert collins[0]["distance"] < 0.6

    page = client.get(response["Location"]).content.decode()
    assert "Eileen Collins" in page
    assert f"{collins[0]['distance']:.3f}" in page
    assert data["result_url"] in page
    assert "badge-success" in page

    image = client.get(data["result_url"])
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"
    assert b"".join(image.streaming_content)[:3] == b"\xff\xd8\xff"


def test_unknown_faces_are_labelled_unknown(
    client, astronaut_jpeg, django_capture_on_commit_callbacks
):
    gallery.invalidate()  # nobody enrolled: every face is a stranger
    with django_capture_on_commit_callbacks(execute=False):
        response = post(client, [photo(astronaut_jpeg)])
    job = finish(Job.objects.get())

    assert job.face_count >= 1
    page = client.get(response["Location"]).content.decode()
    assert "Unknown" in page
    faces = client.get(reverse("recognition:job_status", args=[job.pk])).json()["faces"]
    assert {face["label"] for face in faces} == {"Unknown"}


def test_job_page_shows_faces_timings_and_worker(
    client, astronaut_jpeg, enrolled_astronaut, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        post(client, [photo(astronaut_jpeg, "astronaut.jpg")])
    job = finish(Job.objects.get())

    response = client.get(reverse("recognition:job", args=[job.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Eileen Collins" in html
    assert "test-worker" in html
    for stage in ("Decode", "Detect", "Encode", "Match", "Annotate"):
        assert stage in html
    assert ", ".join(str(value) for value in job.faces[0]["box"]) in html


def test_a_failed_job_shows_its_reason(client, user, astronaut_jpeg):
    from recognition.uploads import create_job

    job = create_job(astronaut_jpeg, "broken.jpg", uuid.uuid4(), owner=user)
    job.claim("test-worker")
    job.mark_failed("The image is truncated.")

    page = client.get(reverse("recognition:submission", args=[job.submission]))
    status = client.get(reverse("recognition:job_status", args=[job.pk])).json()

    assert "The image is truncated." in page.content.decode()
    assert "badge-failure" in page.content.decode()
    assert status["status"] == "FAILURE"
    assert status["final"] is True
    assert status["error"] == "The image is truncated."


@pytest.mark.parametrize(
    "url",
    [
        reverse("recognition:submission", args=[uuid.uuid4()]),
        reverse("recognition:submission_status", args=[uuid.uuid4()]),
        reverse("recognition:job", args=[999999]),
        reverse("recognition:job_status", args=[999999]),
        "/submissions/not-a-uuid/",
    ],
)
def test_unknown_submissions_and_jobs_are_404(client, url):
    assert client.get(url).status_code == 404


# --- Media -----------------------------------------------------------------------


def test_media_serves_a_stored_result_with_nosniff(client, user, astronaut_jpeg):
    name = default_storage.save("results/7.jpg", ContentFile(astronaut_jpeg))
    Job.objects.create(
        filename="a.jpg", image="uploads/a.jpg", result_path=name, owner=user
    )

    response = client.get(reverse("recognition:media", args=[name]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == astronaut_jpeg


@pytest.mark.parametrize(
    "path",
    [
        "/media/uploads/../../secret.txt",
        "/media/uploads/..%2F..%2Fsecret.txt",
        "/media/results/../temp/x.jpg",
        "/media/temp/x.jpg",
        "/media/secret.txt",
        "/media//etc/passwd",
        "/media/uploads/",
        "/media/uploads/missing.jpg",
    ],
)
def test_media_refuses_paths_outside_its_folders(client, settings, path):
    root = Path(settings.MEDIA_ROOT)
    (root / "temp").mkdir(parents=True)
    (root / "uploads").mkdir()
    (root / "temp" / "x.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "secret.txt").write_text("secret")
    (root.parent / "secret.txt").write_text("secret")

    assert client.get(path).status_code == 404
