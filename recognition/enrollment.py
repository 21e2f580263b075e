"""Enrolment: turn a photo of one person into a stored KnownFace."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction

from . import options
from .models import KnownFace, Person
from .pipeline import ImageError, encode_single_face, sniff_format

logger = logging.getLogger(__name__)

EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}


class EnrollmentError(ValueError):
    """The photo cannot be enrolled; the message says why."""


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo that passed the enrolment checks, with what the checks computed."""

    data: bytes = field(repr=False)
    extension: str
    sha256: str
    encoding: bytes = field(repr=False)
    box: list[int]

    def fill(self, face: KnownFace, source_name: str) -> None:
        """Set a new KnownFace's fields and photo (not saved yet)."""
        face.sha256 = self.sha256
        face.encoding = self.encoding
        face.box = self.box
        face.source_name = source_name[:255]
        face.image = ContentFile(self.data, name=f"face.{self.extension}")


def find_duplicate(data: bytes) -> KnownFace | None:
    digest = hashlib.sha256(data).hexdigest()
    return KnownFace.objects.select_related("person").filter(sha256=digest).first()


def check_photo(data: bytes) -> CheckedPhoto:
    """Readable, exactly one face, not enrolled yet; else EnrollmentError with why."""
    duplicate = find_duplicate(data)
    if duplicate is not None:
        raise EnrollmentError(
            f"This photo is already enrolled for {duplicate.person.name}."
        )
    image_format = sniff_format(data)
    if image_format is None:
        raise EnrollmentError("The file is not a supported image (JPEG, PNG or WebP).")
    try:
        box, encoding = encode_single_face(
            data, detect=options.detect_options(), max_pixels=options.max_pixels()
        )
    except ImageError as exc:
        raise EnrollmentError(str(exc)) from None
    return CheckedPhoto(
        data=data,
        extension=EXTENSIONS[image_format],
        sha256=hashlib.sha256(data).hexdigest(),
        encoding=np.asarray(encoding, dtype=np.float64).tobytes(),
        box=list(box),
    )


def enroll_photo(person: Person, data: bytes, source_name: str = "") -> KnownFace:
    """Check the photo and store it as one of the person's faces.

    Raises EnrollmentError with the reason when it is refused.
    """
    checked = check_photo(data)
    face = KnownFace(person=person)
    checked.fill(face, source_name)
    try:
        with transaction.atomic():
            face.save()
    except Exception:
        face.image.delete(save=False)
        raise
    logger.info("Enrolled face %s for %s from %s", face.pk, person.name, source_name)
    return face
