from __future__ import annotations

import uuid

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import F
from django.urls import reverse
from django.utils import timezone


def known_face_path(instance: KnownFace, filename: str) -> str:
    # The stored name is generated; the user's file name never becomes a path.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    return f"known_faces/{uuid.uuid4().hex}.{extension}"


def upload_path(instance: Job, filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    return f"uploads/{uuid.uuid4().hex}.{extension}"


class Person(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.name


class KnownFace(models.Model):
    """One enrolment photo of a person and the encoding of its single face."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="faces")
    image = models.FileField(upload_to=known_face_path, max_length=255)
    source_name = models.CharField(
        max_length=255, blank=True, help_text="The file name it was enrolled from."
    )
    sha256 = models.CharField(
        max_length=64,
        unique=True,
        help_text="Digest of the file content: one enrolment each.",
    )
    encoding = models.BinaryField(help_text="128 float64 values.")
    box = models.JSONField(
        default=list, help_text="[top, right, bottom, left] in pixels."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["person__name", "id"]
        indexes = [models.Index(fields=["person", "created_at"])]

    def __str__(self) -> str:
        return f"{self.person.name} #{self.pk}"

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.encoding), dtype=np.float64)


class Job(models.Model):
    """One uploaded photo and its recognition task: the task log."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        STARTED = "STARTED", "Started"
        SUCCESS = "SUCCESS", "Success"
        FAILURE = "FAILURE", "Failure"
        DEAD = "DEAD", "Dead letter"

    class Priority(models.TextChoices):
        HIGH = "high", "High (interactive)"
        NORMAL = "normal", "Normal"
        LOW = "low", "Low (bulk)"

    FINAL_STATUSES = (Status.SUCCESS, Status.FAILURE, Status.DEAD)
    OPEN_STATUSES = (Status.PENDING, Status.STARTED)

    submission = models.UUIDField(default=uuid.uuid4, db_index=True)
    filename = models.CharField(
        max_length=255, help_text="The uploaded file's name, as text."
    )
    image = models.FileField(upload_to=upload_path, max_length=255)
    task_id = models.CharField(max_length=255, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    priority = models.CharField(max_length=8, choices=Priority, default=Priority.NORMAL)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
    )
    tolerance = models.FloatField(
        null=True, blank=True, help_text="Overrides the configured tolerance."
    )
    candidate_limit = models.PositiveSmallIntegerField(
        default=3, help_text="Nearest people kept per face."
    )
    callback_url = models.URLField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(
        null=True, blank=True, help_text="Seconds from start to end."
    )
    worker_name = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker started it."
    )
    stale_requeues = models.PositiveSmallIntegerField(
        default=0, help_text="Times it was re-queued after its worker vanished."
    )
    result_path = models.CharField(max_length=255, blank=True)
    recognized_name = models.CharField(max_length=1000, blank=True)
    face_count = models.PositiveIntegerField(default=0)
    faces = models.JSONField(default=list, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["end_time"]),
            models.Index(fields=["worker_name", "status"]),
            models.Index(fields=["recognized_name"]),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.filename})"

    def get_absolute_url(self) -> str:
        return reverse("recognition:job", args=[self.pk])

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    def claim(self, worker_name: str) -> bool:
        """Mark the job STARTED for this worker, unless it already has its result.

        A conditional UPDATE that must change exactly one row: a second delivery of a
        finished job changes nothing, and a job whose worker died (still STARTED) is
        taken over.
        """
        now = timezone.now()
        claimed = Job.objects.filter(pk=self.pk, status__in=self.OPEN_STATUSES).update(
            status=self.Status.STARTED,
            start_time=now,
            worker_name=worker_name[:255],
            attempts=F("attempts") + 1,
        )
        if claimed != 1:
            self.refresh_from_db(fields=["status"])
            return False
        self.refresh_from_db(fields=["status", "start_time", "worker_name", "attempts"])
        return True

    def _finish(self, status: str, **fields) -> bool:  # noqa: ANN003
        # Only the claim holder (same attempt) may record the outcome, once.
        end = timezone.now()
        start = self.start_time or end
        fields.update(
            status=status, end_time=end, duration=(end - start).total_seconds()
        )
        updated = Job.objects.filter(
            pk=self.pk, status=self.Status.STARTED, attempts=self.attempts
        ).update(**fields)
        if updated:
            for name, value in fields.items():
                setattr(self, name, value)
        return updated == 1

    def mark_succeeded(
        self,
        *,
        faces: list[dict],
        timings: dict[str, float],
        result_path: str,
        width: int,
        height: int,
    ) -> bool:
        names = [face["name"] for face in faces if face.get("name")]
        return self._finish(
            self.Status.SUCCESS,
            faces=faces,
            face_count=len(faces),
            recognized_name=", ".join(dict.fromkeys(names))[:1000],
            timings=timings,
            result_path=result_path,
            width=width,
            height=height,
            error="",
        )

    def mark_failed(self, reason: str) -> bool:
        return self._finish(self.Status.FAILURE, error=reason[:5000])

    @classmethod
    def mark_dead(cls, job_id: int, reason: str) -> bool:
        """Dead-letter an unfinished job (retries spent, time limit, lost workers)."""
        now = timezone.now()
        updated = cls.objects.filter(pk=job_id, status__in=cls.OPEN_STATUSES).update(
            status=cls.Status.DEAD, end_time=now, error=reason[:5000]
        )
        return updated == 1

    def revive(self) -> bool:
        """Put a dead job back to PENDING with a new task id, ready to be queued."""
        task_id = uuid.uuid4().hex
        updated = Job.objects.filter(pk=self.pk, status=self.Status.DEAD).update(
            status=self.Status.PENDING,
            task_id=task_id,
            attempts=0,
            stale_requeues=0,
            start_time=None,
            end_time=None,
            duration=None,
            error="",
        )
        if updated:
            self.refresh_from_db()
        return updated == 1
