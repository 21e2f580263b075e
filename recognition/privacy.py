"""The biometric lifecycle: forgetting a person, and not keeping enrolment photos.

forget_person() is the one way a person leaves FaceSite, whether from the admin, the
API (DELETE /people/{id}) or `manage.py forget_person`. Afterwards no row and no file
holds their encodings, photos or names: jobs that named them are redacted and their
annotated images re-drawn (or deleted), and the audit log keeps only who forgot
whom (by id), when, and how much was removed.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, models, transaction
from django.db.models import Q
from django_celery_results.models import TaskResult

from . import audit, gallery, options
from .models import (
    AuditEntry,
    Calibration,
    FaceObservation,
    Job,
    KnownFace,
    Person,
    WebhookDelivery,
)
from .pipeline import AMBIGUOUS, MATCH, Candidate, ImageError, annotate, load_image

logger = logging.getLogger(__name__)

REDACTED = "redacted"
FORGOTTEN = "[forgotten]"
# Audit details that hold a person's name.
NAME_KEYS = ("name", "old_name", "new_name", "from_name")
# Free text that may quote a name (a file name, a message): the name is replaced.
TEXT_FIELDS: tuple[tuple[type[models.Model], str], ...] = (
    (Job, "filename"),
    (Job, "error"),
    (KnownFace, "source_name"),
    (Person, "consent_given_by"),
    (WebhookDelivery, "response_excerpt"),
    (WebhookDelivery, "error"),
    (LogEntry, "object_repr"),
    (LogEntry, "change_message"),
)
TASK_RESULT_FIELDS = ("result", "task_args", "task_kwargs", "meta", "traceback")


def forget_person(person: Person, actor: str) -> dict:
    """Remove every trace of the person; returns the counts (also audited).

    Removed: their encodings and enrolment photos, the faces of other jobs that
    named them (box, name and distance redacted; candidates naming them dropped),
    those faces' observations, Celery results mentioning them, their names in free
    text and in the audit log. Annotated images of redacted jobs are re-drawn from
    the upload, or deleted when the upload is gone. People merged into this person
    count as this person.
    """
    person_id = person.pk
    ids = merged_ids(person_id)
    names = known_names(person, ids)
    with transaction.atomic():
        # Locked first: a worker finishing a job that names them waits for this
        # transaction, or this one for the worker's (see lock_people).
        list(Person.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        counts = {"faces": KnownFace.objects.filter(person_id=person_id).count()}
        counts.update(redact_jobs(ids))
        linked = FaceObservation.objects.filter(
            Q(person_id__in=ids) | Q(candidate_id__in=ids)
        )
        counts["observations"] += deleted_rows(linked)
        counts["task_results"] = purge_task_results(names)
        counts["texts"] = scrub_texts(names)
        forget_calibrations(ids)
        scrub_audit(ids, names)
        person.delete()  # faces cascade; their files go after commit (signals)
        audit.record(audit.Action.FORGET, actor, person_id, **counts)
        transaction.on_commit(gallery.invalidate)
    logger.info("Forgot person %s: %s", person_id, counts)
    return counts


def deleted_rows(queryset: models.QuerySet) -> int:
    """Rows of the queryset's own model deleted (not counting cascades)."""
    return queryset.delete()[1].get(queryset.model._meta.label, 0)


# --- Who and under which names ---------------------------------------------------


def merged_ids(person_id: int) -> set[int]:
    """The person and everyone merged into them, as the audit log tells."""
    ids = {person_id}
    merges = AuditEntry.objects.filter(action=AuditEntry.Action.MERGE)
    frontier = {person_id}
    while frontier:
        sources = {
            entry.details.get("from_id")
            for entry in merges.filter(person_id_value__in=frontier)
        }
        frontier = {pk for pk in sources if isinstance(pk, int)} - ids
        ids |= frontier
    return ids


def known_names(person: Person, ids: set[int]) -> set[str]:
    """Every name they had: now, before a rename, and of people merged into them."""
    names = {person.name}
    for entry in AuditEntry.objects.filter(person_id_value__in=ids):
        names.update(
            value
            for key, value in entry.details.items()
            if key in NAME_KEYS and isinstance(value, str) and value.strip()
        )
    return {name for name in names if name and name != FORGOTTEN}


def name_forms(names: Iterable[str]) -> set[str]:
    """The names as stored text may spell them: as is and JSON-escaped."""
    forms = set()
    for name in names:
        forms.add(name)
        forms.add(json.dumps(name)[1:-1])
    return forms


def name_pattern(names: Iterable[str]) -> re.Pattern:
    """The names, case-insensitive, not inside a longer word ("Al" not in "Alps"),
    though next to digits, dots and underscores ("al_2.jpg")."""
    alternatives = sorted(name_forms(names), key=len, reverse=True)
    joined = "|".join(re.escape(name) for name in alternatives)
    return re.compile(rf"(?<![^\W\d_])(?:{joined})(?![^\W\d_])", re.IGNORECASE)


# --- Jobs ------------------------------------------------------------------------


def redacted_face() -> dict:
    return {
        "name": None,
        "person_id": None,
        "distance": None,
        "verdict": REDACTED,
        "box": None,
        "candidates": [],
        "redacted": True,
    }


def is_theirs(face: dict, ids: set[int]) -> bool:
    """Named after them, or ambiguous between them and someone else."""
    if face.get("person_id") in ids:
        return True
    if face.get("verdict") != AMBIGUOUS:
        return False
    return any(c.get("person_id") in ids for c in (face.get("candidates") or [])[:2])


def redact_faces(faces: list[dict], ids: set[int]) -> tuple[list[dict], list[int]]:
    """The faces with theirs redacted (no box, no name) and the candidates naming
    them dropped from the others, and the positions of the faces redacted."""
    result, redacted = [], []
    for index, face in enumerate(faces):
        if is_theirs(face, ids):
            result.append(redacted_face())
            redacted.append(index)
            continue
        candidates = face.get("candidates") or []
        kept = [c for c in candidates if c.get("person_id") not in ids]
        if kept != candidates:
            # The distance was to the nearest person, maybe them: now to the next.
            distance = kept[0]["distance"] if kept else None
            face = {**face, "candidates": kept, "distance": distance}
        result.append(face)
    return result, redacted


def lock_people(ids: set[int]) -> set[int]:
    """Those of the people who still exist, locked against a forget until the end of
    the transaction (PostgreSQL: FOR SHARE, so workers do not wait for each other;
    SQLite runs one writing transaction at a time anyway).

    A worker calls it before recording a job: a forget that committed first is seen
    (the job is then redacted like the others), and a forget that starts later waits
    and then finds the job among those to redact.
    """
    if not ids:
        return set()
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Person._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                [sorted(ids)],
            )
            return {row[0] for row in cursor.fetchall()}
    return set(
        Person.objects.filter(pk__in=ids).order_by().values_list("pk", flat=True)
    )


def redact_jobs(ids: set[int], jobs: models.QuerySet | None = None) -> dict:
    """Redact every job result (of `jobs`, default all) that names them; re-draw or
    delete its image."""
    counts = {
        "jobs": 0,
        "face_records": 0,
        "observations": 0,
        "images_redrawn": 0,
        "images_deleted": 0,
    }
    jobs = (Job.objects.all() if jobs is None else jobs).filter(face_count__gt=0)
    jobs = jobs.only("pk", "faces", "result_path", "image")
    for job in jobs.iterator(chunk_size=500):
        faces, redacted = redact_faces(list(job.faces or []), ids)
        if faces == job.faces:
            continue
        counts["jobs"] += 1
        counts["face_records"] += len(redacted)
        counts["observations"] += deleted_rows(
            FaceObservation.objects.filter(job=job, index__in=redacted)
        )
        job.faces = faces
        result_path = job.result_path
        if result_path:
            result_path = refresh_image(job, delete=bool(redacted), counts=counts)
        names = dict.fromkeys(face["name"] for face in faces if face.get("name"))
        Job.objects.filter(pk=job.pk).update(
            faces=faces,
            recognized_name=", ".join(names)[:1000],
            result_path=result_path,
        )
    return counts


class DrawnFace:
    """What annotate() reads of a face, rebuilt from a stored face record."""

    def __init__(self, face: dict) -> None:
        self.box = tuple(face["box"])
        self.verdict = face.get("verdict") or (MATCH if face.get("name") else "")
        if self.verdict == MATCH and face.get("name"):
            self.label = face["name"]
        else:
            self.label = "Ambiguous" if self.verdict == AMBIGUOUS else "Unknown"
        distance = face.get("distance")
        self.best = Candidate(0, "", distance) if distance is not None else None


def refresh_image(job: Job, *, delete: bool, counts: dict) -> str:
    """Re-draw the annotated image from the upload and the redacted faces; when the
    upload is gone, delete it if it showed one of their faces (`delete`).

    Returns the image's storage name, "" once deleted.
    """
    jpeg = redraw(job)
    if jpeg is not None:
        counts["images_redrawn"] += 1
        return default_storage.save(job.result_path, ContentFile(jpeg))
    if not delete:
        return job.result_path  # it showed only a distance to them, not them
    if default_storage.exists(job.result_path):
        default_storage.delete(job.result_path)
    counts["images_deleted"] += 1
    return ""


def redraw(job: Job) -> bytes | None:
    """The annotated JPEG of the job's stored faces; None without a usable upload."""
    drawn = [DrawnFace(face) for face in job.faces if face.get("box")]
    try:
        with default_storage.open(job.image.name, "rb") as handle:
            rgb = load_image(handle.read(), options.max_pixels())
    except (OSError, ImageError, ValueError) as exc:
        logger.info("Job %s: the upload cannot be read again (%s)", job.pk, exc)
        return None
    return annotate(rgb, drawn)


# --- Everything else that may hold them ------------------------------------------


def purge_task_results(names: set[str]) -> int:
    """Delete the Celery results (django_celery_results) that mention them."""
    query = Q()
    for name in name_forms(names):
        for field in TASK_RESULT_FIELDS:
            query |= Q(**{f"{field}__icontains": name})
    return TaskResult.objects.filter(query).delete()[0]


def scrub_texts(names: set[str]) -> int:
    """Replace their names in free-text columns (file names, messages, admin log)."""
    pattern = name_pattern(names)
    changed = 0
    for model, field in TEXT_FIELDS:
        query = Q()
        for name in name_forms(names):
            query |= Q(**{f"{field}__icontains": name})
        for pk, text in model.objects.filter(query).values_list("pk", field):
            scrubbed = pattern.sub(FORGOTTEN, text)
            if scrubbed != text:
                model.objects.filter(pk=pk).update(**{field: scrubbed})
                changed += 1
    return changed


def scrub_audit(ids: set[int], names: set[str]) -> None:
    """Names out of the audit log; who did what, when and to which id stays."""
    pattern = name_pattern(names)
    for entry in AuditEntry.objects.all().iterator(chunk_size=1000):
        details = scrub_value(entry.details, pattern)
        if entry.person_id_value in ids:
            details = {
                key: FORGOTTEN if key in NAME_KEYS else value
                for key, value in details.items()
            }
        if details != entry.details:
            AuditEntry.objects.filter(pk=entry.pk).update(details=details)


def scrub_value(value: object, pattern: re.Pattern) -> object:
    if isinstance(value, str):
        return pattern.sub(FORGOTTEN, value)
    if isinstance(value, dict):
        return {key: scrub_value(item, pattern) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_value(item, pattern) for item in value]
    return value


def forget_calibrations(ids: set[int]) -> None:
    """Per-person tolerances are derived from their encodings: drop theirs."""
    keys = {str(pk) for pk in ids}
    for calibration in Calibration.objects.all():
        per_person = calibration.per_person or {}
        kept = {key: value for key, value in per_person.items() if key not in keys}
        if kept != per_person:
            Calibration.objects.filter(pk=calibration.pk).update(per_person=kept)


# --- Enrolment photos ------------------------------------------------------------


def drop_enrolment_photos() -> int:
    """With FACESITE_KEEP_ENROLMENT_PHOTOS off, delete the enrolment photos kept from
    before; the encodings stay. Returns how many were deleted (0 when kept)."""
    if settings.FACESITE_KEEP_ENROLMENT_PHOTOS:
        return 0
    dropped = 0
    for face in KnownFace.objects.exclude(image="").only("pk", "image").iterator():
        name = face.image.name
        KnownFace.objects.filter(pk=face.pk).update(image="")
        if default_storage.exists(name):
            default_storage.delete(name)
        dropped += 1
    if dropped:
        logger.info("Deleted %s enrolment photos; their encodings are kept", dropped)
    return dropped
