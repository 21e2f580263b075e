from __future__ import annotations

import logging

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from . import tasks
from .enrollment import CheckedPhoto, EnrollmentError, check_photo
from .models import Job, KnownFace, Person
from .uploads import UploadError, read_upload

logger = logging.getLogger(__name__)


def media_url(name: str) -> str | None:
    """The URL of a stored file through the media view, None until it exists."""
    if not name:
        return None
    try:
        return reverse("recognition:media", args=[name])
    except NoReverseMatch:
        return None


def thumbnail(name: str, size: int = 96) -> str:
    url = media_url(name)
    if url is None:
        return "-"
    return format_html(
        '<a href="{}"><img src="{}" alt="" style="max-width:{}px;max-height:{}px"></a>',
        url,
        url,
        size,
        size,
    )


class NoInput(forms.Widget):
    """Renders nothing: a visible, empty cell that keeps the table's columns aligned."""

    def render(self, *args: object, **kwargs: object) -> str:
        return ""


class KnownFaceForm(forms.ModelForm):
    """A new face photo, checked in clean() and stored from what clean() computed."""

    photo = forms.FileField(
        label="Add photo",
        required=False,
        help_text="A readable photo showing exactly one face.",
    )

    class Meta:
        model = KnownFace
        fields: list[str] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # An enrolled photo is never replaced: delete it and add another.
            self.fields["photo"].disabled = True
            self.fields["photo"].widget = NoInput()
        self.checked: CheckedPhoto | None = None
        self.source_name = ""

    def clean(self) -> dict:
        cleaned = super().clean()
        upload = cleaned.get("photo")
        if self.instance.pk:
            return cleaned
        if not upload:
            raise forms.ValidationError("Choose a photo to enrol.")
        try:
            self.checked = check_photo(read_upload(upload))
        except (UploadError, EnrollmentError) as exc:
            raise forms.ValidationError(str(exc)) from None
        self.source_name = upload.name
        return cleaned

    def save(self, commit: bool = True) -> KnownFace:
        if self.checked is not None:
            self.checked.fill(self.instance, self.source_name)
        face = super().save(commit)
        if self.checked is not None and commit:
            logger.info("Enrolled face %s for %s in the admin", face.pk, face.person)
        return face


class KnownFaceFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            checked = getattr(form, "checked", None)
            digest = checked.sha256 if checked else None
            if digest and digest in seen:
                form.add_error("photo", "The same photo was added twice.")
            seen.add(digest)


class KnownFaceInline(admin.TabularInline):
    model = KnownFace
    form = KnownFaceForm
    formset = KnownFaceFormSet
    extra = 1
    fields = ("preview", "photo", "source_name", "box", "created_at")
    readonly_fields = ("preview", "source_name", "box", "created_at")

    @admin.display(description="Thumbnail")
    def preview(self, face: KnownFace) -> str:
        return thumbnail(face.image.name) if face.pk else "-"


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("name", "face_count", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("created_at", "updated_at")
    inlines = (KnownFaceInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Person]:
        return super().get_queryset(request).annotate(face_total=Count("faces"))

    @admin.display(description="Faces", ordering="face_total")
    def face_count(self, person: Person) -> int:
        return person.face_total


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """The task log: read-only; rows may be deleted."""

    list_display = (
        "id",
        "filename",
        "status",
        "priority",
        "attempts",
        "worker_name",
        "recognized_name",
        "face_count",
        "duration",
        "created_at",
    )
    list_filter = ("status", "priority", "worker_name", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("filename", "recognized_name", "task_id")
    readonly_fields = ("result_preview",)
    actions = ("retry_dead_jobs",)

    @admin.action(description="Retry the selected dead jobs")
    def retry_dead_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        dead = list(queryset.filter(status=Job.Status.DEAD))
        revived = tasks.retry_dead(dead)
        self.message_user(
            request,
            f"{revived} dead job(s) sent back to the queue; "
            f"{queryset.count() - len(dead)} selected job(s) were not dead.",
            messages.SUCCESS if revived else messages.WARNING,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Job | None = None
    ) -> bool:
        return False

    @admin.display(description="Result")
    def result_preview(self, job: Job) -> str:
        return thumbnail(job.result_path or job.image.name, size=480)
