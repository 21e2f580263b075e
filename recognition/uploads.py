"""Accepting uploaded photos: checks before anything is stored or queued.

A photo is accepted when its bytes (never its name) say JPEG, PNG or WebP, when it is
within the byte, pixel and side caps, and when it decodes completely. What is stored
is a fresh encoding of its pixels only: orientation applied, RGB, and no EXIF, GPS,
XMP, ICC profile, text chunk or trailing data.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import uuid
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from .models import Job
from .pipeline import ALLOWED_FORMATS

logger = logging.getLogger(__name__)

EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}
# Stored losslessly, so that the workers see exactly the pixels the original decodes
# to: dlib's encodings move by ~0.045 on average for an invisible ±1 change of the
# pixels (what any JPEG re-save does), which would re-roll every verdict near the
# tolerance. The price: a JPEG is stored as a PNG about 4-5 times its size, for the
# retention period. (A WebP is kept a WebP, lossless; it cannot exceed 16383 px.)
STORED_FORMATS = {"JPEG": "PNG", "MPO": "PNG", "PNG": "PNG", "WEBP": "WEBP"}
SAVE_OPTIONS: dict[str, dict] = {
    "PNG": {"compress_level": 1},  # fast: ~0.2 s for 3 MP; level 6 saves ~10 %
    "WEBP": {"lossless": True, "quality": 0, "method": 0},
}
# Markup where browsers sniff (the first bytes): an "image" that a browser or proxy
# could take for a page is a polyglot, refused even though its pixels decode.
SNIFF_BYTES = 2048
MARKUP = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|iframe|svg|\?php)[\s>/]",
    re.IGNORECASE,
)
SUPPORTED = "JPEG, PNG or WebP"


class UploadError(ValueError):
    """The upload is refused; the message says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CleanImage:
    """The re-encoded photo: only its pixels, ready to store."""

    data: bytes = field(repr=False)
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def clean_filename(name: str) -> str:
    """The user's file name as display text: no path, no control characters, capped."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    return name.strip()[:200] or "upload"


def refuse_polyglot(data: bytes, label: str) -> None:
    """A file that is also an archive or a page is refused, whatever its pixels."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        raise UploadError(
            f"{label} is also a ZIP archive (data appended to the image); "
            "such files are refused.",
            status=415,
        )
    if MARKUP.search(data[:SNIFF_BYTES]):
        raise UploadError(
            f"{label} contains HTML or script markup; such files are refused.",
            status=415,
        )


def check_dimensions(width: int, height: int, label: str) -> None:
    """The pixel and side caps, read from the header before any pixel is decoded."""
    max_pixels = settings.FACESITE_MAX_IMAGE_PIXELS
    max_side = settings.FACESITE_MAX_IMAGE_SIDE
    if width * height > max_pixels:
        raise UploadError(
            f"{label} is {width}×{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,}.",
            status=413,
        )
    if max(width, height) > max_side:
        raise UploadError(
            f"{label} is {width}×{height} pixels; no side may exceed {max_side:,}.",
            status=413,
        )


def decode(data: bytes, label: str) -> tuple[Image.Image, str]:
    """The decoded, upright RGB image and its format; UploadError on refusal."""
    with warnings.catch_warnings():
        # A decompression bomb is an error here, whatever the caps say.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                image_format = image.format
                check_dimensions(*image.size, label)
                refuse_polyglot(data, label)
                image.load()
                upright = upright_rgb(image)
        except UploadError:
            raise
        except UnidentifiedImageError:
            raise UploadError(
                f"{label} is not a supported image ({SUPPORTED}).", status=415
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadError(
                f"{label} claims more pixels than allowed (a decompression bomb).",
                status=413,
            ) from None
        except Exception as exc:  # noqa: BLE001 - hostile bytes raise anything
            logger.info("Refused an undecodable upload: %r", exc)
            raise UploadError(
                f"{label} could not be decoded: it is truncated or damaged."
            ) from None
    return upright, image_format


def upright_rgb(image: Image.Image) -> Image.Image:
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not reject the pixels
        logger.info("Ignored a broken EXIF orientation")
    rgb = image.convert("RGB")
    # convert() copies the metadata (EXIF, ICC, text), and some encoders write
    # what they find there: start from none.
    rgb.info = {}
    return rgb


def check_image(data: bytes, label: str = "The file") -> tuple[Image.Image, str]:
    """The decoded, upright RGB image and its format; UploadError (with the HTTP
    status to answer) when the file is empty, not a supported image, over the pixel
    or side caps, a polyglot, a decompression bomb, or truncated or damaged."""
    if not data:
        raise UploadError(f"{label} is empty.")
    return decode(data, label)


def clean_image(data: bytes, label: str = "The file") -> CleanImage:
    """The photo re-encoded from its pixels alone, after check_image(): the same
    pixels, losslessly (see STORED_FORMATS)."""
    image, image_format = check_image(data, label)
    stored_format = STORED_FORMATS[image_format]
    buffer = io.BytesIO()
    image.save(buffer, format=stored_format, **SAVE_OPTIONS[stored_format])
    return CleanImage(buffer.getvalue(), stored_format, *image.size)


def read_upload(upload: UploadedFile) -> bytes:
    """The original bytes of an uploaded photo, once every check has passed.

    Refused (UploadError with .status): over the byte cap (413, before it is read),
    empty (400), a polyglot or not JPEG/PNG/WebP (415), over the pixel or side caps
    or a decompression bomb (413), truncated or damaged (400).
    """
    label = clean_filename(upload.name or "")
    limit = settings.FACESITE_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadError(
            f"{label} is {upload.size:,} bytes; the limit is {limit:,}.", status=413
        )
    data = upload.read(limit + 1)
    if len(data) > limit:  # the size it declared was wrong
        raise UploadError(f"{label} is over the limit of {limit:,} bytes.", status=413)
    check_image(data, label)
    return data


def create_job(
    data: bytes,
    filename: str,
    submission: uuid.UUID,
    priority: str = Job.Priority.NORMAL,
    owner: AbstractBaseUser | None = None,
    **fields: object,
) -> Job:
    """Store the re-encoded photo under a generated name and create its PENDING job
    (`fields`: more Job fields, e.g. the API's tolerance).

    UploadError when the bytes are not an acceptable photo (see clean_image).
    """
    name = clean_filename(filename)
    image = clean_image(data, name)
    job = Job(
        submission=submission,
        filename=name,
        task_id=uuid.uuid4().hex,
        priority=priority,
        owner=owner,
        **fields,
    )
    job.image.save(f"upload.{image.extension}", ContentFile(image.data), save=False)
    try:
        job.save()
    except Exception:
        job.image.delete(save=False)
        raise
    return job


def submit_jobs(
    files: Iterable[tuple[str, bytes]],
    priority: str,
    owner: AbstractBaseUser | None,
    **fields: object,
) -> list[Job]:
    """Store the photos and create their jobs in one submission, all or none; each
    job is queued once the rows commit."""
    from .tasks import enqueue_on_commit

    submission = uuid.uuid4()
    jobs: list[Job] = []
    try:
        with transaction.atomic():
            for filename, data in files:
                job = create_job(data, filename, submission, priority, owner, **fields)
                jobs.append(job)
                enqueue_on_commit(job)
    except Exception:
        # The rows are rolled back; the files already written must go too.
        for job in jobs:
            job.image.delete(save=False)
        raise
    return jobs
