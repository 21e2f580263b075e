"""Recognition jobs as the API sees them: who sees which, submitting, waiting."""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.request import Request

from .. import uploads
from ..models import ApiKey, Job, Person

IDEMPOTENCY_WINDOW = timedelta(hours=24)
IDEMPOTENCY_LOCK_SECONDS = 60


@dataclass(frozen=True)
class Submission:
    """What a POST /recognitions asks for, checked."""

    files: list[tuple[str, bytes]]
    priority: str
    limit: int
    tolerance: float | None
    callback_url: str
    idempotency_key: str


def visible_jobs(request: Request) -> QuerySet[Job]:
    """An API key sees the jobs it sent; a staff user sees every job."""
    if isinstance(request.auth, ApiKey):
        return Job.objects.filter(api_key=request.auth)
    return Job.objects.all()


def own_jobs(request: Request) -> QuerySet[Job]:
    """The jobs this key (or this user, without a key) sent: the idempotency scope."""
    if isinstance(request.auth, ApiKey):
        return Job.objects.filter(api_key=request.auth)
    return Job.objects.filter(owner=request.user, api_key__isnull=True)


def filter_jobs(jobs: QuerySet[Job], filters: dict) -> QuerySet[Job]:
    if filters.get("status"):
        jobs = jobs.filter(status=filters["status"])
    if "created_after" in filters:
        jobs = jobs.filter(created_at__gte=filters["created_after"])
    if "created_before" in filters:
        jobs = jobs.filter(created_at__lt=filters["created_before"])
    if "person" in filters:
        jobs = jobs.filter(naming(filters["person"]))
    return jobs


def naming(person_id: int) -> Q:
    """Jobs whose recognized names include the person's current name.

    recognized_name joins the names with ", "; matching whole items of that list is
    portable (SQLite and PostgreSQL), unlike a lookup inside the faces JSON.
    """
    name = Person.objects.filter(pk=person_id).values_list("name", flat=True).first()
    if name is None:
        return Q(pk__in=[])
    return (
        Q(recognized_name=name)
        | Q(recognized_name__startswith=f"{name}, ")
        | Q(recognized_name__endswith=f", {name}")
        | Q(recognized_name__contains=f", {name}, ")
    )


def replay(request: Request, key: str) -> list[Job] | None:
    """The jobs an earlier request with this Idempotency-Key made, within 24 h."""
    since = timezone.now() - IDEMPOTENCY_WINDOW
    first = (
        own_jobs(request)
        .filter(idempotency_key=key, created_at__gte=since)
        .order_by("created_at", "pk")
        .first()
    )
    if first is None:
        return None
    batch = Job.objects.filter(submission=first.submission, idempotency_key=key)
    return list(batch.order_by("pk"))


def lock_name(request: Request, key: str) -> str:
    owner = (
        f"key-{request.auth.pk}"
        if isinstance(request.auth, ApiKey)
        else f"user-{request.user.pk}"
    )
    return f"api:idempotency:{owner}:{hashlib.sha256(key.encode()).hexdigest()}"


def acquire(name: str) -> bool:
    """Take the in-flight lock of an idempotency key; True when the cache is away."""
    try:
        return cache.add(name, 1, timeout=IDEMPOTENCY_LOCK_SECONDS)
    except Exception:  # noqa: BLE001 - without the cache, the 24 h lookup still holds
        return True


def release(name: str) -> None:
    with contextlib.suppress(Exception):
        cache.delete(name)


def submit(request: Request, submission: Submission) -> list[Job]:
    """Store the photos and create their jobs, all or none; queued after commit."""
    key = request.auth if isinstance(request.auth, ApiKey) else None
    owner = key.user if key else request.user
    return uploads.submit_jobs(
        submission.files,
        submission.priority,
        owner if owner and owner.is_authenticated else None,
        api_key=key,
        candidate_limit=submission.limit,
        tolerance=submission.tolerance,
        callback_url=submission.callback_url,
        idempotency_key=submission.idempotency_key,
    )


def wait_until_final(jobs: list[Job], seconds: float) -> list[Job]:
    """Poll the rows (the workers run the jobs) until all are final or time is up."""
    deadline = time.monotonic() + seconds
    open_ids = [job.pk for job in jobs if not job.is_final]
    pause = 0.05
    while open_ids and time.monotonic() < deadline:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, 0.5)
        still_open = Job.objects.filter(pk__in=open_ids, status__in=Job.OPEN_STATUSES)
        open_ids = list(still_open.values_list("pk", flat=True))
    for job in jobs:
        job.refresh_from_db()
    return jobs
