from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

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
    consent_given_by = models.CharField(
        max_length=200, blank=True, help_text="Who gave consent to enrol this person."
    )
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_purpose = models.CharField(max_length=500, blank=True)
    tolerance = models.FloatField(
        null=True,
        blank=True,
        help_text="A calibrated tolerance for this person; empty: the global one.",
    )
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
    api_key = models.ForeignKey(
        "ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        help_text="The API key that submitted it.",
    )
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
        if not Job._claim_row(self.pk, worker_name):
            self.refresh_from_db(fields=["status"])
            return False
        self.refresh_from_db(fields=["status", "start_time", "worker_name", "attempts"])
        return True

    @classmethod
    def claim_by_id(cls, job_id: int, worker_name: str) -> tuple[Job | None, bool]:
        """Claim the job with this id as claim() does, reading its row once, after
        the claim: (the job or None when there is no such row, whether it was
        claimed). A task takes its job this way, with two queries instead of three.
        """
        claimed = cls._claim_row(job_id, worker_name)
        return cls.objects.filter(pk=job_id).first(), claimed

    @classmethod
    def _claim_row(cls, job_id: int, worker_name: str) -> bool:
        # A conditional UPDATE that must change exactly one row.
        updated = cls.objects.filter(pk=job_id, status__in=cls.OPEN_STATUSES).update(
            status=cls.Status.STARTED,
            start_time=timezone.now(),
            worker_name=worker_name[:255],
            attempts=F("attempts") + 1,
        )
        return updated == 1

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


class ApiKey(models.Model):
    """A credential for the REST API. Only a SHA-256 digest of the key is stored."""

    class Scope(models.TextChoices):
        RECOGNIZE = "recognize", "Recognize (send photos, read results)"
        MANAGE = "manage", "Manage (enrol, rename, merge and delete people)"

    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, unique=True, help_text="The key's first part, kept in clear."
    )
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.CharField(
        max_length=100, help_text="Comma-separated: recognize, manage."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_keys",
        help_text="The account the key acts for (optional); its jobs are theirs.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()

    @classmethod
    def issue(
        cls, name: str, scopes: list[str], user: models.Model | None = None
    ) -> tuple[ApiKey, str]:
        """Create a key; returns the row and the raw key, which is never stored."""
        key = cls(name=name, scopes=",".join(scopes), user=user)
        raw_key = key.set_new_key()
        key.save()
        return key, raw_key

    @classmethod
    def find(cls, raw_key: str) -> ApiKey | None:
        """The active key with this value, or None."""
        prefix = raw_key.split(".", 1)[0]
        if not prefix or len(prefix) > 16:
            return None
        key = cls.objects.select_related("user").filter(prefix=prefix).first()
        # Compare digests in constant time: the prefix alone proves nothing.
        if key is None or not hmac.compare_digest(key.key_hash, cls.digest(raw_key)):
            return None
        return key if key.active else None

    def set_new_key(self) -> str:
        """Give the (unsaved) row a new key; returns the raw key to show once."""
        self.prefix = secrets.token_hex(4)
        raw_key = f"{self.prefix}.{secrets.token_urlsafe(32)}"
        self.key_hash = self.digest(raw_key)
        return raw_key

    @property
    def scope_list(self) -> list[str]:
        return [scope for scope in self.scopes.split(",") if scope]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope_list

    def touch(self) -> None:
        """Record the use, at most once a minute: no write on every request."""
        now = timezone.now()
        if self.last_used_at and now - self.last_used_at < timedelta(minutes=1):
            return
        ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now


class WebhookDelivery(models.Model):
    """One callback for a finished job: its attempts and the last answer."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        DELIVERED = "DELIVERED", "Delivered"
        FAILED = "FAILED", "Failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    event = models.CharField(max_length=50)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} for job {self.job_id} ({self.status})"


class AuditEntry(models.Model):
    """Who changed the enrolled people, and when. Never holds biometric data."""

    class Action(models.TextChoices):
        CREATE = "create", "Created person"
        ENROL = "enrol", "Added face"
        REMOVE_FACE = "remove_face", "Removed face"
        RENAME = "rename", "Renamed"
        MERGE = "merge", "Merged"
        DELETE = "delete", "Deleted person"
        FORGET = "forget", "Forgot person"
        CONSENT = "consent", "Recorded consent"

    action = models.CharField(max_length=16, choices=Action)
    actor = models.CharField(max_length=200, help_text="User, API key or command.")
    person_id_value = models.BigIntegerField(
        null=True, blank=True, help_text="The person's id (the row may be gone)."
    )
    details = models.JSONField(default=dict, blank=True, help_text="Counts and names.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


class Calibration(models.Model):
    """The tolerance in use, estimated from the gallery (`manage.py calibrate`).

    The newest applied row wins; without one, settings.FACESITE_TOLERANCE applies.
    """

    tolerance = models.FloatField()
    target_far = models.FloatField(help_text="The false-accept rate aimed at.")
    people = models.PositiveIntegerField(default=0)
    genuine_pairs = models.PositiveIntegerField(default=0)
    impostor_pairs = models.PositiveIntegerField(default=0)
    per_person = models.JSONField(
        default=dict, blank=True, help_text="Person id -> tolerance, where estimated."
    )
    minimum = models.FloatField(help_text="The lowest tolerance the operator allows.")
    maximum = models.FloatField(help_text="The highest tolerance the operator allows.")
    applied = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        state = "applied" if self.applied else "proposed"
        return f"{self.tolerance:.3f} for FAR {self.target_far:g} ({state})"


class FaceObservation(models.Model):
    """A face seen in a job, with its encoding: for review and late identification.

    Kept as long as its job (retention deletes both).
    """

    class Review(models.TextChoices):
        NONE = "none", "Not for review"
        PENDING = "pending", "To review"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="observations")
    index = models.PositiveSmallIntegerField(help_text="Position in the job's faces.")
    box = models.JSONField(default=list)
    encoding = models.BinaryField()
    person = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sightings",
    )
    candidate = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="proposals",
        help_text="The person proposed to the reviewer.",
    )
    distance = models.FloatField(null=True, blank=True)
    verdict = models.CharField(max_length=16)
    review = models.CharField(max_length=16, choices=Review, default=Review.NONE)
    rejected_people = models.ManyToManyField(Person, blank=True, related_name="+")
    identified_later = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "index"], name="one_observation_per_face"
            )
        ]
        indexes = [
            models.Index(fields=["review", "created_at"]),
            models.Index(fields=["verdict", "person"]),
        ]

    def __str__(self) -> str:
        return f"Face {self.index} of job {self.job_id}"
