"""Forms of the recognition pages."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from .uploads import UploadError, clean_filename, read_upload

ACCEPTED_TYPES = "image/jpeg,image/png,image/webp"


@dataclass(frozen=True)
class Accepted:
    filename: str
    data: bytes


@dataclass(frozen=True)
class Refused:
    filename: str
    error: str

    def as_dict(self) -> dict[str, str]:
        return {"filename": self.filename, "error": self.error}


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.Field):
    """Every file sent under the field's name, unread: each is checked on its own."""

    widget = MultipleFileInput

    def to_python(self, data: object) -> list[UploadedFile]:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [item for item in files if isinstance(item, UploadedFile)]


class UploadForm(forms.Form):
    """One or many photos. Files that fail their checks are refused one by one;
    the form is invalid only when none is left.
    """

    images = MultipleFileField(
        label="Photos",
        error_messages={"required": "Choose at least one photo."},
        widget=MultipleFileInput(
            attrs={"accept": ACCEPTED_TYPES, "class": "file-input"}
        ),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.accepted: list[Accepted] = []
        self.refused: list[Refused] = []

    @property
    def max_files(self) -> int:
        return settings.FACESITE_MAX_FILES_PER_UPLOAD

    @property
    def max_bytes(self) -> int:
        return settings.FACESITE_MAX_UPLOAD_BYTES

    def clean_images(self) -> list[UploadedFile]:
        files = self.cleaned_data["images"]
        if len(files) > self.max_files:
            raise forms.ValidationError(
                f"{len(files)} files were sent; at most {self.max_files} "
                "can be uploaded at once."
            )
        for upload in files:
            self._check(upload)
        if not self.accepted:
            raise forms.ValidationError(self._nothing_accepted_message())
        return files

    def _check(self, upload: UploadedFile) -> None:
        name = clean_filename(upload.name or "")
        try:
            self.accepted.append(Accepted(name, read_upload(upload)))
        except UploadError as exc:
            self.refused.append(Refused(name, str(exc)))

    def _nothing_accepted_message(self) -> str:
        if len(self.refused) == 1:
            return self.refused[0].error
        return "None of the files is a photo that can be processed."
