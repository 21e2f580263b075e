"""Accepting uploaded photos: checks before anything is stored or queued.

A photo is accepted when its bytes (never its name) say JPEG, PNG or WebP, when it is
within the byte, pixel and side caps, and when it decodes completely. What is stored
holds its pixels only, and no EXIF, GPS, XMP, ICC profile, comment, text chunk or
trailing data: an upright JPEG or PNG keeps its compressed pixels byte for byte with
every other segment removed (recognition.stripping: fast, and the same size); a photo
with an EXIF orientation to apply, a WebP, or a file the stripper cannot rewrite is
re-encoded losslessly from its upright pixels.
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

from . import stripping
from .models import Job
from .pipeline import ALLOWED_FORMATS

logger = logging.getLogger(__name__)

EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}
# What the re-encoder writes (when stripping cannot be used): lossless, so that the
# workers see exactly the pixels the original decodes to. dlib's encodings move by
# ~0.045 on average for an invisible ±1 change of the pixels (what any JPEG re-save
# does), which would re-roll every verdict near the tolerance. The price: a PNG about
# 4-5 times the JPEG's size. (A WebP is kept a WebP, lossless; it cannot exceed
# 16383 px.)
STORED_FORMATS = {"JPEG": "PNG", "MPO": "PNG", "PNG": "PNG", "WEBP": "WEBP"}
STRIPPERS = {
    "JPEG": ("JPEG", stripping.strip_jpeg),
    "MPO": ("JPEG", stripping.strip_jpeg),  # its first picture
    "PNG": ("PNG", stripping.strip_png),
}
ORIENTATION = 0x0112
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


@dataclass
class Decoded:
    """A photo that passed the checks: its pixels, format, size and orientation."""

    image: Image.Image  # upright RGB; reduced when decoded only to check it
    format: str
    width: int
    height: int
    orientation: int  # the EXIF orientation tag (1: already upright)
    reduced: bool  # decoded at a reduced scale, only to check the file


def decode(data: bytes, label: str, reduced: bool = False) -> Decoded:
    """Decode and check the photo; UploadError on refusal.

    reduced: decode a JPEG at 1/8 scale (its whole entropy-coded data is still read,
    so a truncated or damaged file is still refused), for a check that does not need
    the pixels: a few milliseconds less per photo.
    """
    with warnings.catch_warnings():
        # A decompression bomb is an error here, whatever the caps say.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                image_format, (width, height) = image.format, image.size
                check_dimensions(width, height, label)
                refuse_polyglot(data, label)
                if reduced and image_format in ("JPEG", "MPO"):
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
                reduced = image.size != (width, height)
                orientation = orientation_of(image)
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
    return Decoded(upright, image_format, width, height, orientation, reduced)


def orientation_of(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block: treated as upright
        return 1


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


def check_image(data: bytes, label: str = "The file", reduced: bool = False) -> Decoded:
    """The decoded, upright RGB image and what it is; UploadError (with the HTTP
    status to answer) when the file is empty, not a supported image, over the pixel
    or side caps, a polyglot, a decompression bomb, or truncated or damaged."""
    if not data:
        raise UploadError(f"{label} is empty.")
    return decode(data, label, reduced)


def clean_image(data: bytes, label: str = "The file") -> CleanImage:
    """The photo with its pixels only, after check_image(): stripped of everything
    else where it can be, else re-encoded losslessly from its upright pixels."""
    decoded = check_image(data, label, reduced=True)
    stripped = strip(data, decoded)
    if stripped is not None:
        return stripped
    if decoded.reduced:
        decoded = check_image(data, label)  # the full pixels, to re-encode
    stored_format = STORED_FORMATS[decoded.format]
    buffer = io.BytesIO()
    decoded.image.save(buffer, format=stored_format, **SAVE_OPTIONS[stored_format])
    return CleanImage(buffer.getvalue(), stored_format, *decoded.image.size)


def strip(data: bytes, decoded: Decoded) -> CleanImage | None:
    """The upright JPEG or PNG without its metadata, if it decodes as the original."""
    if decoded.orientation != 1 or decoded.format not in STRIPPERS:
        return None
    stored_format, stripper = STRIPPERS[decoded.format]
    stripped = stripper(data)
    if stripped is None:
        return None
    try:
        again = check_image(stripped, reduced=True)
    except UploadError:
        again = None
    # Decoded the same way (a JPEG at 1/8 scale), the two must give the same pixels.
    if again is None or again.image.tobytes() != decoded.image.tobytes():
        logger.warning("A stripped %s decoded differently; re-encoding", decoded.format)
        return None
    return CleanImage(stripped, stored_format, decoded.width, decoded.height)


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
    check_image(data, label, reduced=True)
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
