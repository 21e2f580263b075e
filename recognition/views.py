"""Pages for uploading photos and following their jobs, and the media they show.

Every page needs a login unless FACESITE_PUBLIC_UPLOADS opens the upload page and its
results to anonymous visitors (a kiosk, where each browser sees only what it sent).
A user sees only their own jobs; staff see every job and the enrolment photos.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_safe

from . import options, uploads
from .forms import Accepted, UploadForm
from .models import Job

logger = logging.getLogger(__name__)

# Only these folders of the storage are ever served; temp/ and anything else is not.
MEDIA_FOLDERS = ("uploads", "results", "known_faces")
# The submissions an anonymous kiosk visitor sent, in their session.
SESSION_SUBMISSIONS = "facesite_submissions"
SESSION_SUBMISSIONS_KEPT = 50
# Room for the multipart boundaries and the form fields beside the files.
ENVELOPE_BYTES = 1024 * 1024
RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}


# --- Who may see what --------------------------------------------------------------


def is_staff(request: HttpRequest) -> bool:
    user = request.user
    return user.is_authenticated and user.is_active and user.is_staff


def uploader_required(view: Callable) -> Callable:
    """A login, unless FACESITE_PUBLIC_UPLOADS opens the view to anyone (a kiosk)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.user.is_authenticated or settings.FACESITE_PUBLIC_UPLOADS:
            return view(request, *args, **kwargs)
        return redirect_to_login(request.get_full_path())

    return wrapped


def visible_jobs(request: HttpRequest) -> QuerySet[Job]:
    """Staff: every job. A user: their own. A kiosk visitor: their session's."""
    if is_staff(request):
        return Job.objects.all()
    if request.user.is_authenticated:
        return Job.objects.filter(owner=request.user)
    if settings.FACESITE_PUBLIC_UPLOADS:
        sent = request.session.get(SESSION_SUBMISSIONS, [])
        return Job.objects.filter(owner__isnull=True, submission__in=sent)
    return Job.objects.none()


def remember_submission(request: HttpRequest, submission: uuid.UUID) -> None:
    if request.user.is_authenticated:
        return
    sent = request.session.get(SESSION_SUBMISSIONS, [])
    request.session[SESSION_SUBMISSIONS] = [*sent, str(submission)][
        -SESSION_SUBMISSIONS_KEPT:
    ]


def may_see_file(request: HttpRequest, name: str) -> bool:
    folder = name.split("/", 1)[0]
    if folder == "known_faces":
        return is_staff(request)
    if folder == "uploads":
        return visible_jobs(request).filter(image=name).exists()
    return visible_jobs(request).filter(result_path=name).exists()


# --- Upload limits ----------------------------------------------------------------


def body_too_large(request: HttpRequest) -> int | None:
    """The upload's declared size when it is over what any valid form can carry."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    cap = (
        settings.FACESITE_MAX_FILES_PER_UPLOAD * settings.FACESITE_MAX_UPLOAD_BYTES
        + ENVELOPE_BYTES
    )
    return length if length > cap else None


def throttle_wait(request: HttpRequest) -> int | None:
    """Seconds to wait when this user (or address) has used up the upload rate.

    A fixed window counted in the shared cache, so every web process agrees; when
    the cache is down, uploads are allowed (the queue has its own limits).
    """
    number, _, period = settings.FACESITE_UPLOAD_RATE.partition("/")
    seconds = RATE_PERIODS[period[0]]
    if request.user.is_authenticated:
        ident = f"user-{request.user.pk}"
    else:
        ident = f"ip-{request.META.get('REMOTE_ADDR', '')}"
    now = time.time()
    key = f"upload-rate:{ident}:{int(now // seconds)}"
    try:
        cache.add(key, 0, timeout=seconds + 1)
        used = cache.incr(key)
    except Exception:  # noqa: BLE001 - a cache outage must not stop uploads
        logger.warning("Upload throttle cache unavailable; upload allowed")
        return None
    if used <= int(number):
        return None
    return max(1, int(seconds - now % seconds))


def refuse_upload(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """An upload refused as a whole, before its files were looked at."""
    if wants_json(request):
        body = {"redirect": None, "accepted": 0, "refused": [], "errors": [message]}
        return JsonResponse(body, status=status)
    form = UploadForm()
    context = {"form": form, "refused": [], "page_error": message}
    return render(request, "recognition/upload.html", context, status=status)


# --- Pages ------------------------------------------------------------------------


def wants_json(request: HttpRequest) -> bool:
    preferred = request.get_preferred_type(["text/html", "application/json"])
    return preferred == "application/json"


def media_url(name: str) -> str | None:
    return reverse("recognition:media", args=[name]) if name else None


def face_data(face: dict) -> dict:
    return {
        "name": face.get("name"),
        "label": "Redacted" if face.get("redacted") else face.get("name") or "Unknown",
        "person_id": face.get("person_id"),
        "distance": face.get("distance"),
        "box": face.get("box"),
        "candidates": face.get("candidates", []),
    }


def job_data(job: Job) -> dict:
    """The JSON the pages poll for one job."""
    return {
        "id": job.pk,
        "url": job.get_absolute_url(),
        "filename": job.filename,
        "status": job.status,
        "status_label": job.get_status_display(),
        "final": job.is_final,
        "image_url": media_url(job.image.name),
        "result_url": media_url(job.result_path),
        "face_count": job.face_count,
        "faces": [face_data(face) for face in job.faces],
        "recognized_name": job.recognized_name,
        "error": job.error,
        "duration": job.duration,
        "worker": job.worker_name,
        "attempts": job.attempts,
        "width": job.width,
        "height": job.height,
        "timings": job.timings,
        "created_at": job.created_at,
        "start_time": job.start_time,
        "end_time": job.end_time,
    }


def store_submission(request: HttpRequest, accepted: list[Accepted]) -> uuid.UUID:
    """Create one job per photo, all or none; each is queued once the rows commit."""
    owner = request.user if request.user.is_authenticated else None
    # A single photo is someone waiting at the screen: it goes to the high queue.
    priority = Job.Priority.HIGH if len(accepted) == 1 else Job.Priority.NORMAL
    files = [(item.filename, item.data) for item in accepted]
    return uploads.submit_jobs(files, priority, owner)[0].submission


@csrf_exempt  # checked by csrf_protect below, once the size is known to be sane
@require_http_methods(["GET", "HEAD", "POST"])
@uploader_required
def upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "recognition/upload.html", {"form": UploadForm()})
    # Before the body is parsed: the CSRF check would read (and spool) all of it.
    length = body_too_large(request)
    if length is not None:
        return refuse_upload(
            request, f"The upload is {length:,} bytes, more than allowed.", 413
        )
    return accept_upload(request)


@csrf_protect
def accept_upload(request: HttpRequest) -> HttpResponse:
    wait = throttle_wait(request)
    if wait is not None:
        response = refuse_upload(
            request, f"Too many uploads; try again in {wait} seconds.", 429
        )
        response["Retry-After"] = str(wait)
        return response
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return upload_refused(request, form)
    submission = store_submission(request, form.accepted)
    remember_submission(request, submission)
    url = reverse("recognition:submission", args=[submission])
    for refused in form.refused:
        messages.warning(request, refused.error)
    if wants_json(request):
        return JsonResponse(upload_summary(form, url))
    return redirect(url)


def upload_summary(form: UploadForm, url: str | None) -> dict:
    summary = {
        "redirect": url,
        "accepted": len(form.accepted),
        "refused": [refused.as_dict() for refused in form.refused],
    }
    if url is None:
        summary["errors"] = [str(error) for error in form.errors.get("images", [])]
    return summary


def upload_refused(request: HttpRequest, form: UploadForm) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(upload_summary(form, None), status=400)
    context = {"form": form, "refused": form.refused}
    return render(request, "recognition/upload.html", context, status=400)


def submission_jobs(request: HttpRequest, submission: uuid.UUID) -> list[Job]:
    jobs = list(visible_jobs(request).filter(submission=submission).order_by("pk"))
    if not jobs:
        raise Http404("No such submission.")
    return jobs


@require_safe
@uploader_required
def submission(request: HttpRequest, submission: uuid.UUID) -> HttpResponse:
    jobs = submission_jobs(request, submission)
    finished = sum(job.is_final for job in jobs)
    context = {
        "submission": submission,
        "jobs": jobs,
        "finished": finished,
        "done": finished == len(jobs),
        "tolerance": options.tolerance(),
        "status_url": reverse("recognition:submission_status", args=[submission]),
    }
    return render(request, "recognition/submission.html", context)


@never_cache
@require_safe
@uploader_required
def submission_status(request: HttpRequest, submission: uuid.UUID) -> JsonResponse:
    jobs = submission_jobs(request, submission)
    return JsonResponse(
        {
            "submission": submission,
            "jobs": [job_data(job) for job in jobs],
            "done": all(job.is_final for job in jobs),
        }
    )


def timing_rows(timings: dict[str, float]) -> list[dict]:
    total = sum(timings.values()) or 1.0
    return [
        {"stage": stage, "seconds": seconds, "share": round(100 * seconds / total)}
        for stage, seconds in timings.items()
    ]


@require_safe
@uploader_required
def job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(visible_jobs(request), pk=pk)
    context = {
        "job": job,
        "timings": timing_rows(job.timings),
        "timings_total": sum(job.timings.values()),
        "status_url": reverse("recognition:job_status", args=[job.pk]),
    }
    return render(request, "recognition/job.html", context)


@never_cache
@require_safe
@uploader_required
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(job_data(get_object_or_404(visible_jobs(request), pk=pk)))


def servable(name: str) -> bool:
    """True for a plain file path inside one of the served storage folders."""
    parts = name.split("/")
    return (
        len(parts) >= 2
        and parts[0] in MEDIA_FOLDERS
        and "\\" not in name
        and "\x00" not in name
        and all(part not in ("", ".", "..") for part in parts)
    )


@require_safe
@uploader_required
def media(request: HttpRequest, name: str) -> FileResponse:
    """A stored upload or result of a job the user may see, or (staff) an enrolment
    photo; never anything else. Not found, rather than forbidden, for the rest."""
    if not servable(name) or not may_see_file(request, name):
        raise Http404("No such file.")
    try:
        handle = default_storage.open(name, "rb")
    except (OSError, SuspiciousFileOperation):
        raise Http404("No such file.") from None
    extension = name.rsplit(".", 1)[-1].lower()
    content_type = IMAGE_TYPES.get(extension)
    response = FileResponse(
        handle,
        content_type=content_type or "application/octet-stream",
        as_attachment=content_type is None,
    )
    response["X-Content-Type-Options"] = "nosniff"
    patch_cache_control(response, private=True, max_age=3600)
    return response
