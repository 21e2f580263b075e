"""Jobs, people and faces as API JSON (dicts that the response serializers check)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.urls import reverse

from .. import options
from ..models import Job, KnownFace, Person
from ..pipeline import AMBIGUOUS, MATCH, UNKNOWN
from ..privacy import REDACTED

# Turns a path into the URL clients use (absolute when the request or settings say).
Absolute = Callable[[str], str]

ENCODER = "dlib_face_recognition_resnet_model_v1"


def public_url(path: str) -> str:
    """For webhook bodies, built outside any request."""
    return f"{settings.FACESITE_PUBLIC_URL}{path}"


def box_data(box: list[int] | None) -> dict | None:
    if box is None:
        return None  # a redacted face
    top, right, bottom, left = (int(value) for value in box)
    return {"top": top, "right": right, "bottom": bottom, "left": left}


def person_ref(person_id: int | None, name: str | None) -> dict | None:
    if person_id is None:
        return None
    return {"id": person_id, "name": name or ""}


def verdict(face: dict) -> str:
    # Jobs recorded before verdicts existed: a name was a match.
    if face.get("verdict") in (MATCH, UNKNOWN, AMBIGUOUS, REDACTED):
        return face["verdict"]
    return MATCH if face.get("person_id") is not None else UNKNOWN


def face_data(face: dict, limit: int) -> dict:
    """One stored face of a job; `limit` candidates of those stored."""
    is_match = verdict(face) == MATCH
    return {
        "box": box_data(face["box"]),
        "person": person_ref(face.get("person_id"), face.get("name"))
        if is_match
        else None,
        "distance": face.get("distance"),
        "verdict": verdict(face),
        "candidates": [
            {
                "person": person_ref(c["person_id"], c["name"]),
                "distance": c["distance"],
            }
            for c in face.get("candidates", [])[:limit]
        ],
    }


def parameters(job: Job) -> dict:
    tolerance = job.tolerance if job.tolerance is not None else options.tolerance()
    return {
        "tolerance": tolerance,
        "margin": options.margin(),
        "limit": job.candidate_limit,
        "detector": settings.FACESITE_DETECTOR,
        "model": ENCODER,
    }


def recognition_data(job: Job, absolute: Absolute) -> dict:
    limit = max(1, job.candidate_limit)
    annotated = reverse("api:recognition-annotated", args=[job.pk])
    return {
        "id": job.pk,
        "status": job.status,
        "final": job.is_final,
        "filename": job.filename,
        "priority": job.priority,
        "created_at": job.created_at,
        "started_at": job.start_time,
        "finished_at": job.end_time,
        "duration": job.duration,
        "attempts": job.attempts,
        "error": job.error or None,
        "width": job.width,
        "height": job.height,
        "face_count": job.face_count,
        "faces": [face_data(face, limit) for face in job.faces or []],
        "timings": job.timings or {},
        "parameters": parameters(job),
        "callback_url": job.callback_url or None,
        "links": {
            "self": absolute(reverse("api:recognition", args=[job.pk])),
            "annotated_image": absolute(annotated) if job.result_path else None,
        },
    }


def known_face_data(face: KnownFace, absolute: Absolute) -> dict:
    path = reverse("api:person-face", args=[face.person_id, face.pk])
    return {
        "id": face.pk,
        "person": face.person_id,
        "box": box_data(face.box),
        "source_name": face.source_name,
        "created_at": face.created_at,
        "links": {"self": absolute(path)},
    }


def person_data(person: Person, absolute: Absolute, face_count: int) -> dict:
    return {
        "id": person.pk,
        "name": person.name,
        "face_count": face_count,
        "consent_given_by": person.consent_given_by,
        "consent_at": person.consent_at,
        "consent_purpose": person.consent_purpose,
        "created_at": person.created_at,
        "updated_at": person.updated_at,
        "links": {
            "self": absolute(reverse("api:person", args=[person.pk])),
            "faces": absolute(reverse("api:person-faces", args=[person.pk])),
        },
    }
