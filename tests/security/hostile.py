"""Hostile files, built here byte by byte: nothing is downloaded or shipped."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

GPS_LATITUDE = (52.0, 31.0, 12.0)
CAMERA = "SecretCam 3000"
XMP_OWNER = "Jane Q. Photographer"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bomb(width: int = 10_000, height: int = 10_000) -> bytes:
    """A valid 1-bit PNG of width×height black pixels: a few KB that decode to
    width×height pixels (10000×10000: 100 million, 300 MB as RGB)."""
    row = b"\0" + b"\0" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height))
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header claiming width×height, with (almost) no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def photo_with_gps(rgb: np.ndarray, orientation: int = 6) -> bytes:
    """A JPEG with EXIF (camera, GPS position, orientation) and an XMP packet."""
    exif = Image.Exif()
    exif[0x0112] = orientation  # 6: rotate 90° clockwise to show upright
    exif[0x010F] = CAMERA
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: GPS_LATITUDE, 3: "E", 4: (13.0, 24.0, 36.0)})
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><dc:creator>'
        f"{XMP_OWNER}</dc:creator></rdf:RDF></x:xmpmeta>"
    ).encode()
    return encode(Image.fromarray(rgb), "JPEG", exif=exif, xmp=xmp, quality=92)


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.html", "<script>alert(1)</script>")
    return buffer.getvalue()


def png_with_html_chunk(rgb: np.ndarray) -> bytes:
    """A PNG that decodes, with a page in a text chunk right after its header."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<html><script>alert(document.cookie)</script></html>")
    return encode(Image.fromarray(rgb), "PNG", pnginfo=info)


def hostile_files(rgb: np.ndarray, jpeg: bytes) -> dict[str, tuple[bytes, int]]:
    """name -> (content, the status an upload of it gets)."""
    small = Image.fromarray(rgb[:64, :64])
    return {
        "bomb.png": (png_bomb(), 413),
        "claims-huge.png": (png_claiming(10_000, 10_000), 413),
        "too-long-a-side.jpg": (encode(Image.new("RGB", (20_000, 8)), "JPEG"), 413),
        "photo.svg": (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            415,
        ),
        "photo.tiff": (encode(small, "TIFF"), 415),
        "photo.eps": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n", 415),
        "page.html": (b"<!doctype html><html><script>alert(1)</script>", 415),
        "archive.zip": (zip_archive(), 415),
        "gif-named.jpg": (encode(small, "GIF"), 415),
        "jpeg-plus-zip.jpg": (jpeg + zip_archive(), 415),
        "html-with-png-signature.png": (
            b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
            415,
        ),
        "png-with-html-chunk.png": (png_with_html_chunk(rgb[:64, :64]), 415),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], 400),
        "empty.jpg": (b"", 400),
    }


def _names() -> tuple[str, ...]:
    tiny = np.zeros((8, 8, 3), np.uint8)
    return tuple(hostile_files(tiny, encode(Image.fromarray(tiny), "JPEG")))


HOSTILE_NAMES = _names()
