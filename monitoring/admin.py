from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import PerformanceStat, WorkerSnapshot


@admin.register(PerformanceStat)
class PerformanceStatAdmin(admin.ModelAdmin):
    """Timed runs, as recorded by the commands: read-only; rows may be deleted."""

    list_display = (
        "timestamp",
        "mode",
        "num_images",
        "total_time",
        "avg_time",
        "num_workers",
        "faces_found",
        "failures",
        "source",
    )
    list_filter = ("mode",)
    date_hierarchy = "timestamp"
    search_fields = ("source",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: PerformanceStat | None = None
    ) -> bool:
        return False


@admin.register(WorkerSnapshot)
class WorkerSnapshotAdmin(admin.ModelAdmin):
    """Worker health as recorded by the beat task every few minutes: read-only."""

    list_display = (
        "timestamp",
        "broker_ok",
        "workers_online",
        "queue_depths",
        "unacked",
    )
    list_filter = ("broker_ok",)
    date_hierarchy = "timestamp"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: WorkerSnapshot | None = None
    ) -> bool:
        return False
