from __future__ import annotations

import hashlib
import io
import uuid

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from monitoring.models import PerformanceStat
from recognition.enrollment import enroll_photo
from recognition.models import Job, KnownFace, Person
from recognition.uploads import create_job
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.django_db


def inline_post(name: str, *photos: bytes, existing: list[KnownFace] = ()) -> dict:
    """The admin form data for a person with new inline photos."""
    data = {
        "name": name,
        "faces-TOTAL_FORMS": str(len(existing) + len(photos)),
        "faces-INITIAL_FORMS": str(len(existing)),
        "faces-MIN_NUM_FORMS": "0",
        "faces-MAX_NUM_FORMS": "1000",
    }
    for index, face in enumerate(existing):
        data[f"faces-{index}-id"] = str(face.pk)
        data[f"faces-{index}-person"] = str(face.person_id)
    for index, photo in enumerate(photos, start=len(existing)):
        data[f"faces-{index}-photo"] = SimpleUploadedFile(
            f"photo{index}.jpg", photo, content_type="image/jpeg"
        )
    return data


@pytest.fixture
def grey_jpeg() -> bytes:
    return jpeg_bytes(np.full((240, 320, 3), 128, np.uint8))


@pytest.fixture
def eileen(astronaut_face_jpeg) -> Person:
    person = Person.objects.create(name="Eileen Collins")
    enroll_photo(person, astronaut_face_jpeg, "eileen.jpg")
    return person


@pytest.fixture
def job(astronaut_jpeg) -> Job:
    job = create_job(astronaut_jpeg, "crew photo.jpg", submission=uuid.uuid4())
    job.task_id = "abc123"
    job.save(update_fields=["task_id"])
    return job


@pytest.mark.parametrize(
    "url",
    [
        "admin:recognition_person_changelist",
        "admin:recognition_person_add",
        "admin:recognition_job_changelist",
        "admin:monitoring_performancestat_changelist",
    ],
)
def test_admin_pages_load(admin_client, url, eileen, job):
    PerformanceStat.objects.create(
        mode="sequential", num_images=2, total_time=1.0, avg_time=0.5
    )
    assert admin_client.get(reverse(url)).status_code == 200


def test_person_list_counts_faces_and_searches_names(admin_client, eileen):
    Person.objects.create(name="Somebody Else")
    url = reverse("admin:recognition_person_changelist")

    page = admin_client.get(url, {"q": "eileen"}).content.decode()

    assert "Eileen Collins" in page
    assert "Somebody Else" not in page
    assert '<td class="field-face_count">1</td>' in page


def test_person_page_shows_face_thumbnails(admin_client, eileen):
    face = eileen.faces.get()
    page = admin_client.get(
        reverse("admin:recognition_person_change", args=[eileen.pk])
    ).content.decode()

    assert reverse("recognition:media", args=[face.image.name]) in page
    assert "encoding" not in page.lower()


def test_adding_a_person_with_a_photo_enrols_it(admin_client, astronaut_face_jpeg):
    response = admin_client.post(
        reverse("admin:recognition_person_add"),
        inline_post("Eileen Collins", astronaut_face_jpeg),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    face = KnownFace.objects.get()
    assert face.person.name == "Eileen Collins"
    assert face.vector.shape == (128,)
    assert np.isfinite(face.vector).all()
    assert len(face.box) == 4
    assert face.source_name == "photo0.jpg"
    assert face.image.name.startswith("known_faces/")
    with default_storage.open(face.image.name, "rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    # Stored pixels only (tests/security); the digest is the original's.
    assert (stored.format, stored.size) == ("JPEG", (512, 300))
    assert face.sha256 == hashlib.sha256(astronaut_face_jpeg).hexdigest()


def test_a_photo_without_a_face_is_refused_on_the_form(admin_client, grey_jpeg):
    response = admin_client.post(
        reverse("admin:recognition_person_add"), inline_post("Nobody", grey_jpeg)
    )

    assert response.status_code == 200
    assert "No face was found in this photo." in response.content.decode()
    assert Person.objects.count() == 0
    assert KnownFace.objects.count() == 0


def test_a_photo_with_two_faces_or_no_image_is_refused(admin_client, astronaut_jpeg):
    response = admin_client.post(
        reverse("admin:recognition_person_add"),
        inline_post("Crowd", astronaut_jpeg, b"plain text"),
    )

    page = response.content.decode()
    assert "2 faces were found in this photo" in page
    assert "not a supported image" in page
    assert KnownFace.objects.count() == 0


def test_a_photo_already_enrolled_is_refused(admin_client, eileen, astronaut_face_jpeg):
    response = admin_client.post(
        reverse("admin:recognition_person_change", args=[eileen.pk]),
        inline_post(
            "Eileen Collins", astronaut_face_jpeg, existing=[*eileen.faces.all()]
        ),
    )

    assert response.status_code == 200
    assert "already enrolled for Eileen Collins" in response.content.decode()
    assert KnownFace.objects.count() == 1


def test_the_same_new_photo_twice_is_refused(admin_client, astronaut_face_jpeg):
    response = admin_client.post(
        reverse("admin:recognition_person_add"),
        inline_post("Eileen Collins", astronaut_face_jpeg, astronaut_face_jpeg),
    )

    assert response.status_code == 200
    assert "The same photo was added twice." in response.content.decode()
    assert KnownFace.objects.count() == 0


def test_more_photos_can_be_added_to_an_enrolled_person(
    admin_client, eileen, astronaut_rgb
):
    response = admin_client.post(
        reverse("admin:recognition_person_change", args=[eileen.pk]),
        inline_post(
            "Eileen Collins",
            jpeg_bytes(astronaut_rgb[:300], quality=70),
            existing=[*eileen.faces.all()],
        ),
    )

    assert response.status_code == 302
    assert eileen.faces.count() == 2


def test_jobs_are_read_only(admin_client, job):
    change = reverse("admin:recognition_job_change", args=[job.pk])

    assert admin_client.get(reverse("admin:recognition_job_add")).status_code == 403
    page = admin_client.get(change).content.decode()
    assert "crew photo.jpg" in page
    assert 'name="filename"' not in page
    assert reverse("recognition:media", args=[job.image.name]) in page
    admin_client.post(change, {"filename": "renamed.jpg", "status": "SUCCESS"})
    job.refresh_from_db()
    assert (job.filename, job.status) == ("crew photo.jpg", Job.Status.PENDING)


def test_jobs_can_be_deleted(admin_client, job):
    url = reverse("admin:recognition_job_delete", args=[job.pk])
    admin_client.post(url, {"post": "yes"})
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"q": "abc123"}, True),
        ({"q": "crew"}, True),
        ({"q": "nobody"}, False),
        ({"status__exact": "SUCCESS"}, False),
        ({"status__exact": "PENDING"}, True),
    ],
)
def test_job_list_search_and_filters(admin_client, job, query, shown):
    page = admin_client.get(reverse("admin:recognition_job_changelist"), query)
    assert page.status_code == 200
    assert ("crew photo.jpg" in page.content.decode()) is shown


def test_performance_stats_are_read_only_and_filter_by_mode(admin_client):
    PerformanceStat.objects.create(
        mode="distributed",
        num_images=9,
        total_time=3.0,
        avg_time=0.33,
        source="/data/bench-run-7",
    )
    url = reverse("admin:monitoring_performancestat_changelist")

    def listed(mode: str) -> bool:
        page = admin_client.get(url, {"mode__exact": mode}).content.decode()
        return "bench-run-7" in page

    assert listed("distributed")
    assert not listed("sequential")
    add = reverse("admin:monitoring_performancestat_add")
    assert admin_client.get(add).status_code == 403


def test_the_retry_action_revives_dead_jobs_only(
    admin_client, astronaut_jpeg, broker_down
):
    dead = create_job(astronaut_jpeg, "dead.jpg", uuid.uuid4())
    dead.claim("w")
    Job.mark_dead(dead.pk, "boom")
    done = create_job(astronaut_jpeg, "done.jpg", uuid.uuid4())
    done.claim("w")
    done.mark_failed("bad photo")
    response = admin_client.post(
        reverse("admin:recognition_job_changelist"),
        {"action": "retry_dead_jobs", "_selected_action": [dead.pk, done.pk]},
        follow=True,
    )
    assert "1 dead job(s) sent back to the queue; 1 selected job(s) were not dead." in (
        response.content.decode()
    )
    assert Job.objects.get(pk=dead.pk).status == Job.Status.PENDING
    assert Job.objects.get(pk=done.pk).status == Job.Status.FAILURE
