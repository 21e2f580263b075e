"""Enrolment: turn a photo of one person into a stored KnownFace."""

from __future__ import annotations

import hashlib
import logging

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


def find_duplicate(data: bytes) -> KnownFace | None:
    digest = hashlib.sha256(data).hexdigest()
    return KnownFace.objects.select_related("person").filter(sha256=digest).first()


def enroll_photo(person: Person, data: bytes, source_name: str = "") -> KnownFace:
    """Check the photo (readable, exactly one face, not enrolled yet) and store it.

    Raises EnrollmentError with the reason when it is refused.
    """
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
    face = KnownFace(
        person=person,
        source_name=source_name[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        encoding=np.asarray(encoding, dtype=np.float64).tobytes(),
        box=list(box),
    )
    face.image.save(f"face.{EXTENSIONS[image_format]}", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            face.save()
    except Exception:
        face.image.delete(save=False)
        raise
    logger.info("Enrolled face %s for %s from %s", face.pk, person.name, source_name)
    return face
