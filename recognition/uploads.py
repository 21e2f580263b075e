"""Accepting uploaded photos: checks before anything is stored or queued."""

from __future__ import annotations

import re
import unicodedata
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile

from .enrollment import EXTENSIONS
from .models import Job
from .pipeline import sniff_format


class UploadError(ValueError):
    """The upload is refused; the message says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def clean_filename(name: str) -> str:
    """The user's file name as display text: no path, no control characters, capped."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    return name.strip()[:200] or "upload"


def read_upload(upload: UploadedFile) -> bytes:
    """The bytes of an uploaded file, refused when empty, too large or not an image."""
    limit = settings.FACESITE_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadError(
            f"{clean_filename(upload.name)} is {upload.size:,} bytes; "
            f"the limit is {limit:,}.",
            status=413,
        )
    data = upload.read()
    if not data:
        raise UploadError(f"{clean_filename(upload.name)} is empty.")
    if sniff_format(data) is None:
        raise UploadError(
            f"{clean_filename(upload.name)} is not a supported image "
            "(JPEG, PNG or WebP).",
            status=415,
        )
    return data


def create_job(
    data: bytes,
    filename: str,
    submission: uuid.UUID,
    priority: str = Job.Priority.NORMAL,
) -> Job:
    """Store the photo under a generated name and create its PENDING job row."""
    extension = EXTENSIONS[sniff_format(data) or "JPEG"]
    job = Job(
        submission=submission,
        filename=clean_filename(filename),
        task_id=uuid.uuid4().hex,
        priority=priority,
    )
    job.image.save(f"upload.{extension}", ContentFile(data), save=False)
    try:
        job.save()
    except Exception:
        job.image.delete(save=False)
        raise
    return job
