"""Faces seen in jobs: the review queue and late identification.

Every face a job finds is kept as a FaceObservation with its encoding (for as long as
the job is kept). Faces near the tolerance, or ambiguous, wait for an operator; an
"Unknown" face is matched again when someone is enrolled or gains a photo.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import numpy as np
from django.db import transaction
from PIL import Image

from . import gallery, options
from .models import FaceObservation, Job, Person
from .pipeline import AMBIGUOUS, MATCH, UNKNOWN, FaceResult, load_image, match_faces

logger = logging.getLogger(__name__)

# Faces this close to the tolerance (either side) are worth a human look.
REVIEW_BAND = 0.05
# Late identification looks at this many of the newest unknown faces at most.
REMATCH_LIMIT = 50_000


def needs_review(face: FaceResult) -> bool:
    best = face.best
    if best is None or face.width < face.min_size:
        return False
    if face.verdict == AMBIGUOUS:
        return True
    return abs(best.distance - face.tolerance) <= REVIEW_BAND


def record_observations(
    job: Job, faces: Sequence[FaceResult], forgotten: set[int] = frozenset()
) -> None:
    """Store the faces of a job that just finished (replacing an earlier attempt's),
    but none whose nearest person was `forgotten` (as forget_person deletes them)."""
    if job.attempts > 1:
        FaceObservation.objects.filter(job=job).delete()
    FaceObservation.objects.bulk_create(
        FaceObservation(
            job=job,
            index=index,
            box=list(face.box),
            encoding=np.asarray(face.encoding, dtype=np.float64).tobytes(),
            person_id=face.match.person_id if face.match else None,
            candidate_id=face.best.person_id if face.best else None,
            distance=face.best.distance if face.best else None,
            verdict=face.verdict,
            review=(
                FaceObservation.Review.PENDING
                if needs_review(face)
                else FaceObservation.Review.NONE
            ),
        )
        for index, face in enumerate(faces)
        if not (face.best and face.best.person_id in forgotten)
    )


def _set_face(job: Job, index: int, person: Person | None, **extra: object) -> None:
    """Rewrite one face of a job's stored result, and the job's list of names."""
    faces = list(job.faces)
    if index >= len(faces):
        return  # the stored result no longer lists this face (e.g. redacted)
    face = dict(faces[index])
    face.update(
        name=person.name if person else None,
        person_id=person.pk if person else None,
        **extra,
    )
    faces[index] = face
    names = dict.fromkeys(f["name"] for f in faces if f.get("name"))
    Job.objects.filter(pk=job.pk).update(
        faces=faces, recognized_name=", ".join(names)[:1000]
    )


def enrol_face(observation: FaceObservation, person: Person) -> None:
    """Add the observed face, cropped with a margin from its upload, to `person`.

    Raises EnrollmentError when the crop fails the quality gate or the upload is gone.
    """
    from .enrollment import EnrollmentError, enroll_photo

    job = observation.job
    try:
        with job.image.open("rb") as handle:
            rgb = load_image(handle.read(), options.max_pixels())
    except (FileNotFoundError, ValueError):
        raise EnrollmentError("The job's photo is no longer stored.") from None
    top, right, bottom, left = observation.box
    pad = (bottom - top) // 2
    height, width = rgb.shape[:2]
    crop = rgb[
        max(0, top - pad) : min(height, bottom + pad),
        max(0, left - pad) : min(width, right + pad),
    ]
    buffer = io.BytesIO()
    Image.fromarray(crop).save(buffer, format="PNG")
    enroll_photo(
        person,
        buffer.getvalue(),
        f"job {job.pk} face {observation.index}",
        confirm=True,
    )


@transaction.atomic
def confirm(
    observation: FaceObservation, person: Person | None = None, enrol: bool = False
) -> None:
    """The operator says this face is `person` (default: the proposed one); with
    `enrol`, the face also becomes one of the person's photos."""
    person = person or observation.candidate
    if person is None:
        raise ValueError("Nobody is proposed for this face; choose a person.")
    observation.person = person
    observation.verdict = MATCH
    observation.review = FaceObservation.Review.CONFIRMED
    observation.save(update_fields=["person", "verdict", "review"])
    _set_face(observation.job, observation.index, person, verdict=MATCH, reviewed=True)
    if enrol:
        enrol_face(observation, person)


@transaction.atomic
def reject(observation: FaceObservation) -> None:
    """The operator says this face is not the proposed person: never propose again."""
    if observation.candidate_id:
        observation.rejected_people.add(observation.candidate_id)
    if observation.person_id and observation.person_id == observation.candidate_id:
        _set_face(
            observation.job, observation.index, None, verdict=UNKNOWN, reviewed=True
        )
        observation.person = None
        observation.verdict = UNKNOWN
    observation.candidate = None
    observation.review = FaceObservation.Review.REJECTED
    observation.save(update_fields=["person", "verdict", "candidate", "review"])


def rematch_unknown_faces(person_ids: Sequence[int] | None = None) -> int:
    """Match the stored "Unknown" faces again; name those that now match.

    Only matches to `person_ids` (when given) are taken, and never a pairing an
    operator rejected. Returns how many faces were identified.
    """
    current = gallery.current()
    if current.people_count == 0:
        return 0
    unknown = list(
        FaceObservation.objects.filter(verdict=UNKNOWN, person__isnull=True)
        .select_related("job")
        .prefetch_related("rejected_people")
        .order_by("-created_at")[:REMATCH_LIMIT]
    )
    if not unknown:
        return 0
    tolerance = (
        current.tolerance if current.tolerance is not None else options.tolerance()
    )
    faces = match_faces(
        [tuple(o.box) for o in unknown],
        [np.frombuffer(bytes(o.encoding), dtype=np.float64) for o in unknown],
        current,
        tolerance,
        margin=options.margin(),
        min_size=options.min_identify_size(),
    )
    identified = 0
    for observation, face in zip(unknown, faces, strict=True):
        match = face.match
        if match is None or (
            person_ids is not None and match.person_id not in person_ids
        ):
            continue
        if any(p.pk == match.person_id for p in observation.rejected_people.all()):
            continue
        identified += identify_later(observation, match.person_id, match.distance)
    if identified:
        logger.info("Late identification named %s earlier unknown faces", identified)
    return identified


@transaction.atomic
def identify_later(
    observation: FaceObservation, person_id: int, distance: float
) -> bool:
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        return False
    updated = FaceObservation.objects.filter(
        pk=observation.pk, person__isnull=True, verdict=UNKNOWN
    ).update(person=person, verdict=MATCH, distance=distance, identified_later=True)
    if updated:
        job = Job.objects.get(pk=observation.job_id)
        _set_face(
            job,
            observation.index,
            person,
            verdict=MATCH,
            distance=distance,
            identified_later=True,
        )
    return bool(updated)
