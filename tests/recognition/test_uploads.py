from __future__ import annotations

import uuid

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from recognition.models import Job
from recognition.uploads import UploadError, clean_filename, create_job, read_upload


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("C:\\Users\\me\\photo.png", "photo.png"),
        ("bad\x00name.jpg", "badname.jpg"),
        ("", "upload"),
        ("x" * 500 + ".jpg", "x" * 200),
    ],
)
def test_clean_filename_keeps_only_display_text(given, expected):
    assert clean_filename(given) == expected


def test_read_upload_accepts_an_image_whatever_its_name(astronaut_jpeg):
    upload = SimpleUploadedFile("photo.png", astronaut_jpeg)
    assert read_upload(upload) == astronaut_jpeg


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"", 400, "empty"),
        (b"%PDF-1.4 not an image", 415, "not a supported image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", 415, "not a supported"),
    ],
)
def test_read_upload_refuses_bad_files(content, status, message):
    with pytest.raises(UploadError, match=message) as info:
        read_upload(SimpleUploadedFile("x.jpg", content))
    assert info.value.status == status


def test_read_upload_refuses_files_over_the_byte_cap(settings, astronaut_jpeg):
    settings.FACESITE_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(UploadError, match="limit is 1,000") as info:
        read_upload(SimpleUploadedFile("big.jpg", astronaut_jpeg))
    assert info.value.status == 413


@pytest.mark.django_db
def test_create_job_stores_under_a_generated_name(astronaut_jpeg):
    job = create_job(astronaut_jpeg, "../../etc/passwd.jpg", uuid.uuid4())
    assert job.status == Job.Status.PENDING
    assert job.filename == "passwd.jpg"
    assert job.image.name.startswith("uploads/") and job.image.name.endswith(".jpg")
    assert "passwd" not in job.image.name
    assert default_storage.exists(job.image.name)
    assert job.task_id
