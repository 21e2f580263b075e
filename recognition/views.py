"""Pages for uploading photos and following their jobs, and the media they show."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db import transaction
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
from django.views.decorators.http import require_http_methods, require_safe

from . import options, tasks, uploads
from .forms import Accepted, UploadForm
from .models import Job

# Only these folders of the storage are ever served; temp/ and anything else is not.
MEDIA_FOLDERS = ("uploads", "results", "known_faces")
IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}


def wants_json(request: HttpRequest) -> bool:
    preferred = request.get_preferred_type(["text/html", "application/json"])
    return preferred == "application/json"


def media_url(name: str) -> str | None:
    return reverse("recognition:media", args=[name]) if name else None


def face_data(face: dict) -> dict:
    return {
        "name": face.get("name"),
        "label": face.get("name") or "Unknown",
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


def store_submission(accepted: list[Accepted]) -> uuid.UUID:
    """Create one job per photo, all or none; each is queued once the rows commit."""
    submission = uuid.uuid4()
    jobs: list[Job] = []
    # A single photo is someone waiting at the screen: it goes to the high queue.
    priority = Job.Priority.HIGH if len(accepted) == 1 else Job.Priority.NORMAL
    try:
        with transaction.atomic():
            for item in accepted:
                jobs.append(
                    uploads.create_job(item.data, item.filename, submission, priority)
                )
                tasks.enqueue_on_commit(jobs[-1])
    except Exception:
        # The rows are rolled back; the files already written must go too.
        for job in jobs:
            job.image.delete(save=False)
        raise
    return submission


@require_http_methods(["GET", "HEAD", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "recognition/upload.html", {"form": UploadForm()})
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return upload_refused(request, form)
    url = reverse("recognition:submission", args=[store_submission(form.accepted)])
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


def submission_jobs(submission: uuid.UUID) -> list[Job]:
    jobs = list(Job.objects.filter(submission=submission).order_by("pk"))
    if not jobs:
        raise Http404("No such submission.")
    return jobs


@require_safe
def submission(request: HttpRequest, submission: uuid.UUID) -> HttpResponse:
    jobs = submission_jobs(submission)
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
def submission_status(request: HttpRequest, submission: uuid.UUID) -> JsonResponse:
    jobs = submission_jobs(submission)
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
def job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk)
    context = {
        "job": job,
        "timings": timing_rows(job.timings),
        "timings_total": sum(job.timings.values()),
        "status_url": reverse("recognition:job_status", args=[job.pk]),
    }
    return render(request, "recognition/job.html", context)


@never_cache
@require_safe
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(job_data(get_object_or_404(Job, pk=pk)))


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
def media(request: HttpRequest, name: str) -> FileResponse:
    """A stored upload, result or enrolment photo, never anything else."""
    if not servable(name):
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
