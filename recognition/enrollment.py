"""Enrolment: turn a photo of one person into a stored KnownFace."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from . import audit, gallery, options
from .models import KnownFace, Person
from .pipeline import (
    Box,
    ImageError,
    detect_faces,
    encode_faces,
    face_sharpness,
    load_image,
    overlap,
)
from .uploads import UploadError, clean_image

logger = logging.getLogger(__name__)

# Closer than this, two photos almost surely show one person (no stranger of the
# shared test photos comes under 0.5 of anyone enrolled).
SAME_PERSON_DISTANCE = 0.4


class EnrollmentError(ValueError):
    """The photo cannot be enrolled; the message says why."""


class LookalikeWarning(EnrollmentError):
    """The face is nearer to another person: enrol only when the operator confirms."""

    def __init__(self, message: str, other: str, other_distance: float) -> None:
        super().__init__(message)
        self.other = other
        self.other_distance = other_distance


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo that passed the enrolment checks, with what the checks computed."""

    data: bytes = field(repr=False)  # re-encoded: pixels only, no EXIF/GPS/XMP
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
        if settings.FACESITE_KEEP_ENROLMENT_PHOTOS:
            face.image = ContentFile(self.data, name=f"face.{self.extension}")
        else:
            face.image = ""  # only the encoding is kept; pages show a placeholder


def find_duplicate(data: bytes) -> KnownFace | None:
    digest = hashlib.sha256(data).hexdigest()
    return KnownFace.objects.select_related("person").filter(sha256=digest).first()


def check_photo(
    data: bytes,
    person: Person | None = None,
    *,
    box: Box | None = None,
    confirm: bool = False,
) -> CheckedPhoto:
    """The enrolment quality gate; EnrollmentError with the reason on refusal.

    Refused: a person without recorded consent (when FACESITE_REQUIRE_CONSENT is
    on), an unreadable, unsupported or hostile file, a photo already enrolled (the
    same original bytes), no face, several faces (unless `box` picks one), a face
    that is too small or too blurred. A face nearer to someone else than to `person`
    raises LookalikeWarning unless `confirm` is set. What is kept of the file is its
    re-encoded pixels.
    """
    if person is not None:
        check_consent(person)
    duplicate = find_duplicate(data)
    if duplicate is not None:
        raise EnrollmentError(
            f"This photo is already enrolled for {duplicate.person.name}."
        )
    try:
        clean = clean_image(data)
    except UploadError as exc:
        raise EnrollmentError(str(exc)) from None
    try:
        rgb = load_image(data, options.max_pixels())
    except ImageError as exc:
        raise EnrollmentError(str(exc)) from None
    face = choose_face(detect_faces(rgb, options.detect_options()), box)
    check_quality(rgb, face)
    (encoding,) = encode_faces(rgb, [face])
    if person is not None and not confirm:
        check_lookalike(encoding, person)
    return CheckedPhoto(
        data=clean.data,
        extension=clean.extension,
        sha256=hashlib.sha256(data).hexdigest(),
        encoding=np.asarray(encoding, dtype=np.float64).tobytes(),
        box=list(face),
    )


def has_consent(person: Person) -> bool:
    return bool(
        person.consent_given_by.strip()
        and person.consent_purpose.strip()
        and person.consent_at
    )


def check_consent(person: Person) -> None:
    """Where the law requires consent (FACESITE_REQUIRE_CONSENT), enrolling someone
    whose consent is not recorded (who, when, what for) is refused."""
    if settings.FACESITE_REQUIRE_CONSENT and not has_consent(person):
        raise EnrollmentError(
            "Consent is required before enrolling: record who gave it, when and "
            "for what purpose."
        )


def choose_face(boxes: list[Box], wanted: Box | None) -> Box:
    if not boxes:
        raise EnrollmentError("No face was found in this photo.")
    if wanted is not None:
        best = max(boxes, key=lambda b: overlap(b, wanted))
        if overlap(best, wanted) < 0.3:
            raise EnrollmentError("No face was found at the chosen box.")
        return best
    if len(boxes) > 1:
        found = ", ".join(str(list(b)) for b in boxes)
        raise EnrollmentError(
            f"{len(boxes)} faces were found in this photo ({found}); an enrolment "
            "photo must show exactly one, or choose one by its box."
        )
    return boxes[0]


def check_quality(rgb: np.ndarray, face: Box) -> None:
    width = face[1] - face[3]
    minimum = settings.FACESITE_ENROL_MIN_FACE
    if width < minimum:
        raise EnrollmentError(
            f"The face is {width} px wide; enrolment needs at least {minimum} px."
        )
    sharpness = face_sharpness(rgb, face)
    if sharpness < settings.FACESITE_ENROL_MIN_SHARPNESS:
        raise EnrollmentError(
            f"The face is too blurred (sharpness {sharpness:.1f}, "
            f"at least {settings.FACESITE_ENROL_MIN_SHARPNESS:g} is needed)."
        )


def check_lookalike(encoding: np.ndarray, person: Person) -> None:
    """Warn when another person is nearer than `person`: a mislabelled photo or a
    look-alike. For a person without photos yet, warn only when someone is so near
    (under SAME_PERSON_DISTANCE) that it is likely the same person under a new name."""
    current = gallery.current()
    if current.people_count == 0:
        return
    distances = current.person_distances(encoding)[0]
    ids = list(current.person_ids)
    own = distances[ids.index(person.pk)] if person.pk in ids else None
    others = [
        (d, pid) for d, pid in zip(distances, ids, strict=True) if pid != person.pk
    ]
    if not others:
        return
    nearest, other_id = min(others)
    limit = own if own is not None else SAME_PERSON_DISTANCE
    if nearest < limit:
        other = current.names[other_id]
        own_text = f" than to {person.name} ({own:.2f})" if own is not None else ""
        raise LookalikeWarning(
            f"This face is nearer to {other} ({nearest:.2f}){own_text}: a mislabelled "
            "photo or a look-alike. Confirm to enrol it anyway.",
            other,
            float(nearest),
        )


def enroll_photo(
    person: Person,
    data: bytes,
    source_name: str = "",
    *,
    box: Box | None = None,
    confirm: bool = False,
    actor: str = "",
) -> KnownFace:
    """Check the photo and store it as one of the person's faces (audited as `actor`).

    Raises EnrollmentError (or LookalikeWarning) with the reason when it is refused.
    """
    checked = check_photo(data, person, box=box, confirm=confirm)
    face = KnownFace(person=person)
    checked.fill(face, source_name)
    try:
        with transaction.atomic():
            face.save()
            audit.record(audit.Action.ENROL, actor or "code", person.pk, face=face.pk)
    except Exception:
        if face.image:
            face.image.delete(save=False)
        raise
    # Ids only: logs outlive a "forget", so they never carry names.
    logger.info("Enrolled face %s for person %s", face.pk, person.pk)
    return face
