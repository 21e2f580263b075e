"""Running the pipeline for one claimed job and recording its outcome."""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from . import gallery, options, privacy, review, webhooks
from .models import Job
from .pipeline import FaceResult, Gallery, ImageError, Recognition, recognize

logger = logging.getLogger(__name__)


def face_record(face: FaceResult) -> dict:
    """The JSON stored for one face of a job."""
    match, best = face.match, face.best
    return {
        "name": match.name if match else None,
        "person_id": match.person_id if match else None,
        "distance": best.distance if best else None,
        "verdict": face.verdict,
        "box": list(face.box),
        "candidates": [
            {"person_id": c.person_id, "name": c.name, "distance": c.distance}
            for c in face.candidates
        ],
    }


def result_name(job: Job) -> str:
    # One fixed name per job: a redelivered job overwrites its result, never adds one.
    return f"results/{job.pk}.jpg"


def save_result_image(job: Job, jpeg: bytes) -> str:
    # The default storage overwrites (settings.STORAGES), so the name stays fixed.
    return default_storage.save(result_name(job), ContentFile(jpeg))


def process(job: Job) -> None:
    """Recognise the faces in a claimed job's photo and record success or failure.

    Bad input ends the job as FAILURE with its reason. Other exceptions propagate so
    the caller can retry transient ones. A job this call finished gets its webhook.
    """
    run(job)
    if job.is_final:
        webhooks.schedule(job)


def recognize_photo(
    data: bytes, current: Gallery, tolerance: float | None = None, limit: int = 3
) -> Recognition:
    """The pipeline on one photo with the service's settings, as a job runs it; the
    tolerance is the job's if given, else the gallery's calibrated one, else
    FACESITE_TOLERANCE."""
    if tolerance is None:
        tolerance = current.tolerance
    return recognize(
        data,
        current,
        tolerance=tolerance if tolerance is not None else options.tolerance(),
        detect=options.detect_options(),
        max_pixels=options.max_pixels(),
        limit=limit,
        margin=options.margin(),
        min_size=options.min_identify_size(),
    )


def run(job: Job) -> None:
    try:
        with job.image.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        job.mark_failed("The uploaded file is missing from storage.")
        return
    try:
        outcome = recognize_photo(
            data, gallery.current(), job.tolerance, job.candidate_limit
        )
    except ImageError as exc:
        job.mark_failed(str(exc))
        return
    stored = save_result_image(job, outcome.annotated_jpeg)
    faces = [face_record(face) for face in outcome.faces]
    with transaction.atomic():
        # The gallery was loaded before the pipeline ran: someone it names may have
        # been forgotten since. Their faces are redacted as the forget redacted the
        # jobs it found.
        named = {c.person_id for face in outcome.faces for c in face.candidates}
        forgotten = named - privacy.lock_people(named)
        finished = job.mark_succeeded(
            faces=faces,
            timings=outcome.timings,
            result_path=stored,
            width=outcome.width,
            height=outcome.height,
        )
        if finished:
            review.record_observations(job, outcome.faces, forgotten)
            if forgotten:
                privacy.redact_jobs(forgotten, Job.objects.filter(pk=job.pk))
                job.refresh_from_db(fields=["faces", "recognized_name", "result_path"])
    if not finished:
        logger.warning("Job %s was finished by another attempt; result kept", job.pk)
