"""Removing metadata from a JPEG or PNG without touching its compressed pixels.

An upload is stored with nothing but what its pixels need: for a JPEG the tables, the
frame and scan headers and the entropy-coded data; for a PNG the header, palette,
transparency and image data. EXIF (GPS, camera, orientation), XMP, IPTC, ICC
profiles, comments, text chunks and anything after the end of the image are dropped.
The compressed data is copied byte for byte, so the stored file decodes to exactly
the pixels of the original, at the original's size on disk, in well under a
millisecond; re-encoding a 512 px photo losslessly took 22 ms and 4-5 times the bytes.

Each function returns None when the file is not one it can rewrite (a marker it does
not know, a missing end of image); the caller then re-encodes the decoded pixels.
"""

from __future__ import annotations

import struct

JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"
START_OF_SCAN = 0xDA
# Markers that carry no length: TEM and the restart markers inside scans.
STANDALONE = {0x01, *range(0xD0, 0xD8)}
# Segments a decoder needs: frame headers (SOF0-15 but DHT, JPG, DAC), Huffman and
# arithmetic tables, quantisation tables, restart interval, number of lines, scans.
KEPT_JPEG = {
    *range(0xC0, 0xC4),
    *range(0xC5, 0xC8),
    *range(0xC9, 0xCC),
    *range(0xCD, 0xD0),
    0xC4,  # DHT
    0xCC,  # DAC
    0xDB,  # DQT
    0xDD,  # DRI
    0xDC,  # DNL
    START_OF_SCAN,
}
APP14 = 0xEE  # Adobe: says whether three channels are RGB or YCbCr, so it stays

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEPT_PNG = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


def strip_jpeg(data: bytes) -> bytes | None:
    """The JPEG with only the segments its pixels need (the first image of an MPO)."""
    if not data.startswith(JPEG_START):
        return None
    kept = [JPEG_START]
    position, size = 2, len(data)
    while position + 2 <= size:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == JPEG_END[1]:
            kept.append(JPEG_END)
            return b"".join(kept)
        if marker in STANDALONE:
            position += 2
            continue
        if position + 4 > size:
            return None
        (length,) = struct.unpack_from(">H", data, position + 2)
        end = position + 2 + length
        if length < 2 or end > size:
            return None
        if marker == START_OF_SCAN:
            end = scan_end(data, end)
            if end is None:
                return None
        if marker in KEPT_JPEG or (
            marker == APP14 and data[position + 4 : position + 9] == b"Adobe"
        ):
            kept.append(data[position:end])
        elif not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            return None  # not an application segment or a comment: leave it alone
        position = end
    return None  # no end of image


def scan_end(data: bytes, position: int) -> int | None:
    """Where the entropy-coded data after a scan header ends: the next marker that
    is not a stuffed 0xFF00 or a restart marker."""
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            return None
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            position += 1
            continue
        return position


def strip_png(data: bytes) -> bytes | None:
    """The PNG with only its critical chunks and transparency (the first frame of an
    APNG), or None when a chunk's length runs past the end."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    kept = [PNG_SIGNATURE]
    position, size = len(PNG_SIGNATURE), len(data)
    while position + 12 <= size:
        (length,) = struct.unpack_from(">I", data, position)
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > size:
            return None
        if kind in KEPT_PNG:
            kept.append(data[position:end])
        if kind == b"IEND":
            return b"".join(kept)
        position = end
    return None
