from __future__ import annotations

from django.db import models


class PerformanceStat(models.Model):
    """One timed run over a folder of images (recognize or benchmark command)."""

    class Mode(models.TextChoices):
        SEQUENTIAL = "sequential", "Sequential"
        DISTRIBUTED = "distributed", "Distributed"

    mode = models.CharField(max_length=16, choices=Mode)
    num_images = models.PositiveIntegerField()
    total_time = models.FloatField(help_text="Seconds for the whole run.")
    avg_time = models.FloatField(help_text="Seconds per image.")
    num_workers = models.PositiveIntegerField(default=1)
    faces_found = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    source = models.CharField(
        max_length=500, blank=True, help_text="The folder that was run."
    )
    timestamp = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["mode", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.mode} {self.num_images} images in {self.total_time:.1f}s"

    @property
    def images_per_second(self) -> float:
        return self.num_images / self.total_time if self.total_time else 0.0


class WorkerSnapshot(models.Model):
    """A periodic record of worker health and queue depth, written by Celery beat."""

    timestamp = models.DateTimeField(auto_now_add=True, db_index=True)
    broker_ok = models.BooleanField(default=False)
    workers = models.JSONField(
        default=list, help_text="Names of the workers that answered."
    )
    workers_online = models.PositiveIntegerField(default=0)
    queue_depths = models.JSONField(
        default=dict, help_text="Messages waiting per queue."
    )
    unacked = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-timestamp"]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M} {self.workers_online} worker(s)"
