"""Metadata stripping keeps the compressed pixels and drops everything else."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from recognition.stripping import strip_jpeg, strip_png


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def jpeg(rgb: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("progressive", [False, True])
def test_a_jpeg_loses_exif_icc_comment_and_trailing_bytes_but_not_a_pixel(
    astronaut_rgb, progressive
):
    exif = Image.Exif()
    exif[0x010F] = "SecretCam 3000"
    original = (
        jpeg(
            astronaut_rgb,
            progressive=progressive,
            exif=exif,
            icc_profile=b"ICC-PROFILE" * 20,
            comment=b"taken at home",
            restart_marker_blocks=4,  # RST markers inside the scan are kept
        )
        + b"trailing secret"
    )

    stripped = strip_jpeg(original)

    assert stripped is not None
    for secret in (
        b"SecretCam",
        b"ICC-PROFILE",
        b"taken at home",
        b"trailing",
        b"Exif",
    ):
        assert secret in original and secret not in stripped
    assert np.array_equal(pixels(stripped), pixels(original))
    assert stripped.endswith(b"\xff\xd9")
    assert len(stripped) < len(original)


def test_a_jpeg_without_its_end_is_left_to_the_re_encoder(astronaut_jpeg):
    assert strip_jpeg(astronaut_jpeg[: len(astronaut_jpeg) // 2]) is None
    assert strip_jpeg(b"not a jpeg") is None


def test_a_png_keeps_only_header_palette_transparency_and_data(astronaut_rgb):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Q. Photographer")
    exif = Image.Exif()
    exif[0x010F] = "SecretCam 3000"
    buffer = io.BytesIO()
    Image.fromarray(astronaut_rgb[:64, :64]).save(
        buffer, "PNG", pnginfo=info, exif=exif
    )
    original = buffer.getvalue() + b"after the end"

    stripped = strip_png(original)

    assert stripped is not None
    for secret in (b"Jane Q.", b"SecretCam", b"eXIf", b"tEXt", b"after the end"):
        assert secret in original and secret not in stripped
    assert np.array_equal(pixels(stripped), pixels(original))
    assert strip_png(original[:40]) is None
