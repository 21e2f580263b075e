from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from . import audit, tasks
from .enrollment import CheckedPhoto, EnrollmentError, check_photo
from .models import ApiKey, AuditEntry, Job, KnownFace, Person, WebhookDelivery
from .privacy import forget_person
from .uploads import UploadError, read_upload


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


def no_photo_placeholder(size: int = 96) -> str:
    """For an enrolment whose photo was not kept (FACESITE_KEEP_ENROLMENT_PHOTOS)."""
    return format_html(
        '<span title="Only the face encoding is kept" style="display:inline-flex;'
        "align-items:center;justify-content:center;width:{}px;height:{}px;"
        "border:1px dashed #c3c8d0;border-radius:8px;color:#6b7280;font-size:11px;"
        'text-align:center">no photo kept</span>',
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
    confirm = forms.BooleanField(
        label="Look-alike OK",
        required=False,
        help_text="Enrol even if the face is nearer to someone else.",
    )

    class Meta:
        model = KnownFace
        fields: list[str] = []

    def __init__(
        self, *args: object, parent: Person | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        # The person being added or changed, as the form above it just set it
        # (with the consent entered there), not as the database still has it.
        self.parent = parent
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
        person = self.parent or Person(name="")
        try:
            self.checked = check_photo(
                read_upload(upload), person, confirm=cleaned.get("confirm", False)
            )
        except (UploadError, EnrollmentError) as exc:
            raise forms.ValidationError(str(exc)) from None
        self.source_name = upload.name
        return cleaned

    def save(self, commit: bool = True) -> KnownFace:
        if self.checked is not None:
            self.checked.fill(self.instance, self.source_name)
        return super().save(commit)


class KnownFaceFormSet(forms.BaseInlineFormSet):
    def get_form_kwargs(self, index: int | None) -> dict:
        return {**super().get_form_kwargs(index), "parent": self.instance}

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
    fields = ("preview", "photo", "confirm", "source_name", "box", "created_at")
    readonly_fields = ("preview", "source_name", "box", "created_at")

    @admin.display(description="Thumbnail")
    def preview(self, face: KnownFace) -> str:
        if not face.pk:
            return "-"
        return thumbnail(face.image.name) if face.image else no_photo_placeholder()


class PersonForm(forms.ModelForm):
    """Consent is who gave it and for what purpose; its time defaults to now."""

    class Meta:
        model = Person
        fields = (
            "name",
            "tolerance",
            "consent_given_by",
            "consent_at",
            "consent_purpose",
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        given_by = (cleaned.get("consent_given_by") or "").strip()
        purpose = (cleaned.get("consent_purpose") or "").strip()
        if (given_by or purpose or cleaned.get("consent_at")) and not (
            given_by and purpose
        ):
            raise forms.ValidationError(
                "Record consent completely: who gave it and for what purpose."
            )
        if given_by and not cleaned.get("consent_at"):
            cleaned["consent_at"] = timezone.now()
        return cleaned


def consent_details(person: Person) -> dict:
    return {
        "consent_at": person.consent_at.isoformat() if person.consent_at else None,
        "purpose": person.consent_purpose,
    }


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """People and their photos. Deleting a person here forgets them (see
    recognition.privacy): their encodings, photos and every mention in results."""

    form = PersonForm
    list_display = ("name", "face_count", "has_consent", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "tolerance", "created_at", "updated_at")}),
        (
            "Consent",
            {
                "fields": ("consent_given_by", "consent_at", "consent_purpose"),
                "description": "Who consented to this person's enrolment, when and "
                "for what purpose. Required before enrolling when "
                "FACESITE_REQUIRE_CONSENT is on.",
            },
        ),
    )
    inlines = (KnownFaceInline,)
    actions = ("forget_people",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Person]:
        return super().get_queryset(request).annotate(face_total=Count("faces"))

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a plain delete would leave traces
        return actions

    @admin.display(description="Faces", ordering="face_total")
    def face_count(self, person: Person) -> int:
        return person.face_total

    @admin.display(description="Consent", boolean=True)
    def has_consent(self, person: Person) -> bool:
        return bool(person.consent_at)

    def save_model(
        self, request: HttpRequest, obj: Person, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        actor = audit.user_actor(request.user)
        if not change:
            audit.record(audit.Action.CREATE, actor, obj.pk, name=obj.name)
        elif "name" in form.changed_data:
            audit.record(
                audit.Action.RENAME,
                actor,
                obj.pk,
                old_name=form.initial.get("name", ""),
                new_name=obj.name,
            )
        consent_fields = {"consent_given_by", "consent_at", "consent_purpose"}
        if obj.consent_at and consent_fields & set(form.changed_data):
            audit.record(audit.Action.CONSENT, actor, obj.pk, **consent_details(obj))

    def save_formset(
        self,
        request: HttpRequest,
        form: forms.ModelForm,
        formset: forms.BaseInlineFormSet,
        change: bool,
    ) -> None:
        super().save_formset(request, form, formset, change)
        actor = audit.user_actor(request.user)
        for face in formset.new_objects:
            audit.record(audit.Action.ENROL, actor, face.person_id, face=face.pk)
        for face in formset.deleted_objects:
            audit.record(audit.Action.REMOVE_FACE, actor, face.person_id, face=face.pk)

    def delete_model(self, request: HttpRequest, obj: Person) -> None:
        forget_person(obj, audit.user_actor(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for person in queryset:
            forget_person(person, audit.user_actor(request.user))

    @admin.action(
        description="Forget the selected people (encodings, photos, mentions)",
        permissions=["delete"],
    )
    def forget_people(
        self, request: HttpRequest, queryset: QuerySet[Person]
    ) -> HttpResponse | None:
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Forget these people?",
                "opts": self.model._meta,
                "people": list(queryset),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return render(
                request, "admin/recognition/person/forget_confirmation.html", context
            )
        forgotten = 0
        for person in list(queryset):
            forget_person(person, audit.user_actor(request.user))
            forgotten += 1
        self.message_user(
            request,
            f"{forgotten} person(s) forgotten: encodings, photos and every mention "
            "in results removed. The audit log records it, without their names.",
            messages.SUCCESS,
        )
        return None


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


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes", "user", "active")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["scopes"] = self.instance.scope_list

    def clean_scopes(self) -> str:
        return ",".join(self.cleaned_data["scopes"])


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here or with `manage.py create_api_key`; the raw key is
    shown once, in the message after saving a new key."""

    form = ApiKeyForm
    list_display = ("name", "prefix", "scopes", "user", "active", "last_used_at")
    list_filter = ("active",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool
    ) -> None:
        raw_key = None if change else obj.set_new_key()
        super().save_model(request, obj, form, change)
        if raw_key:
            self.message_user(
                request,
                f"The new API key is {raw_key} — copy it now: it is never shown again.",
                messages.WARNING,
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Webhook attempts: read-only."""

    list_display = (
        "id",
        "job",
        "url",
        "status",
        "attempts",
        "response_status",
        "last_attempt_at",
    )
    list_filter = ("status", "event")
    search_fields = ("url", "job__id")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: WebhookDelivery | None = None
    ) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Who changed the enrolled people, and when: read-only, never deleted here."""

    list_display = ("created_at", "actor", "action", "person_id_value", "details")
    list_filter = ("action",)
    search_fields = ("actor", "person_id_value")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "actor", "action", "person_id_value", "details")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: AuditEntry | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: AuditEntry | None = None
    ) -> bool:
        return False
