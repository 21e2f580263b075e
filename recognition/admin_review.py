"""Admin pages for the review queue and calibrations (registered from apps.ready)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from . import calibration, review
from .enrollment import EnrollmentError
from .models import Calibration, FaceObservation


class ReviewFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return list(FaceObservation.Review.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(review=value) if value else queryset


@admin.register(FaceObservation)
class FaceObservationAdmin(admin.ModelAdmin):
    """Faces seen in jobs; the ones near the threshold wait here for a decision."""

    list_display = (
        "id",
        "job_link",
        "index",
        "verdict",
        "person",
        "candidate",
        "distance",
        "review",
        "identified_later",
        "created_at",
    )
    list_filter = (ReviewFilter, "verdict", "identified_later")
    list_select_related = ("job", "person", "candidate")
    readonly_fields = [
        f.name for f in FaceObservation._meta.fields if f.name != "encoding"
    ]
    exclude = ("encoding", "rejected_people")
    actions = ("confirm_faces", "confirm_and_enrol", "reject_faces")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Job")
    def job_link(self, observation: FaceObservation) -> str:
        try:
            url = reverse("recognition:job", args=[observation.job_id])
        except NoReverseMatch:
            return str(observation.job_id)
        return format_html('<a href="{}">{}</a>', url, observation.job_id)

    @admin.action(description="Confirm: the face is the proposed person")
    def confirm_faces(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for observation in queryset.select_related("job", "candidate"):
            if observation.candidate_id:
                review.confirm(observation)
                done += 1
        self.message_user(request, f"{done} face(s) confirmed.", messages.SUCCESS)

    @admin.action(description="Confirm, and add the face to the person's photos")
    def confirm_and_enrol(self, request: HttpRequest, queryset: QuerySet) -> None:
        for observation in queryset.select_related("job", "candidate"):
            if not observation.candidate_id:
                continue
            try:
                review.confirm(observation, enrol=True)
            except EnrollmentError as exc:
                self.message_user(
                    request, f"Face {observation.pk}: {exc}", messages.WARNING
                )
            else:
                self.message_user(
                    request, f"Face {observation.pk} confirmed and enrolled."
                )

    @admin.action(description="Reject: not the proposed person (never propose again)")
    def reject_faces(self, request: HttpRequest, queryset: QuerySet) -> None:
        for observation in queryset.select_related("job"):
            review.reject(observation)
        self.message_user(request, f"{queryset.count()} face(s) rejected.")


@admin.register(Calibration)
class CalibrationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "tolerance", "target_far", "people", "applied")
    readonly_fields = [f.name for f in Calibration._meta.fields]
    actions = ("apply_calibration",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Apply the selected calibration")
    def apply_calibration(self, request: HttpRequest, queryset: QuerySet) -> None:
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one calibration.", messages.ERROR
            )
            return
        applied = calibration.apply(queryset.get())
        self.message_user(request, f"Tolerance {applied.tolerance:.2f} is now in use.")
