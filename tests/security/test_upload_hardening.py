"""Uploads: caps before storage, bombs, formats from the bytes, polyglots, re-encoding
(no EXIF/GPS/XMP), generated names, traversal names and file modes."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from recognition import processing
from recognition.enrollment import EnrollmentError, enroll_photo
from recognition.models import Job, Person
from recognition.pipeline import load_image
from recognition.uploads import create_job
from tests.security.conftest import (
    API_UPLOAD_URL,
    UPLOAD_URL,
    assert_nothing_kept,
    post_raw,
    stored_files,
    upload,
)
from tests.security.hostile import (
    CAMERA,
    HOSTILE_NAMES,
    XMP_OWNER,
    encode,
    hostile_files,
    photo_with_gps,
    png_bomb,
)

pytestmark = pytest.mark.django_db

API_CODES = {400: "invalid_image", 413: "too_large", 415: "unsupported_image"}


@pytest.fixture(scope="module")
def hostile(astronaut_rgb, astronaut_jpeg) -> dict[str, tuple[bytes, int]]:
    return hostile_files(astronaut_rgb, astronaut_jpeg)


@pytest.fixture
def media_root(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


def open_stored(name: str) -> Image.Image:
    with default_storage.open(name, "rb") as handle:
        return Image.open(io.BytesIO(handle.read()))


def stored_bytes(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- Hostile files: refused by the web page and the API, nothing kept ------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_the_upload_page_refuses_each_hostile_file_and_keeps_nothing(
    name, hostile, alice_client, media_root, django_capture_on_commit_callbacks
):
    content, _status = hostile[name]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice_client.post(
            UPLOAD_URL,
            {"images": [upload(name, content)]},
            headers={"accept": "application/json"},
        )

    assert response.status_code == 400
    refusal = response.json()["refused"][0]
    assert refusal["filename"] == name
    assert refusal["error"].startswith(name)  # says which file and why
    assert_nothing_kept(media_root, callbacks)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_the_api_refuses_each_hostile_file_with_its_status(
    name, hostile, api, media_root, django_capture_on_commit_callbacks
):
    content, status = hostile[name]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(API_UPLOAD_URL, {"image": upload(name, content)})

    assert response.status_code == status, response.content
    error = response.json()["error"]
    code = API_CODES[status] if content else "empty"  # DRF's own check comes first
    assert (error["code"], error["field"]) == (code, "image")
    assert_nothing_kept(media_root, callbacks)


def test_a_tiny_png_claiming_10000_by_10000_pixels_is_refused_at_upload(
    api, media_root, django_capture_on_commit_callbacks
):
    bomb = png_bomb(10_000, 10_000)
    assert len(bomb) < 20_000  # a few KB on the wire

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(API_UPLOAD_URL, {"image": upload("bomb.png", bomb)})

    assert response.status_code == 413
    assert "decompression bomb" in response.json()["error"]["message"]
    assert_nothing_kept(media_root, callbacks)


def test_bombs_are_refused_by_the_detection_endpoint_too(api):
    response = api.post("/api/v1/detections", {"image": upload("b.png", png_bomb())})

    assert response.status_code == 413


def test_a_bomb_that_reaches_storage_fails_in_the_worker(astronaut_jpeg):
    # Stored behind the upload checks' back (an old file, a restored backup): the
    # worker refuses it as well, as a terminal failure.
    job = create_job(astronaut_jpeg, "x.jpg", uuid.uuid4())
    with default_storage.open(job.image.name, "wb") as handle:
        handle.write(png_bomb())
    assert job.claim("test-worker")

    processing.process(job)

    job.refresh_from_db()
    assert job.status == Job.Status.FAILURE
    assert "pixels" in job.error


# --- Caps ---------------------------------------------------------------------------


def test_over_the_byte_cap_is_413_in_the_api_and_a_form_error_on_the_page(
    settings, api, alice_client, astronaut_jpeg, media_root,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.FACESITE_MAX_UPLOAD_BYTES = 10_000
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        by_api = api.post(API_UPLOAD_URL, {"image": upload("big.jpg", astronaut_jpeg)})
        by_page = alice_client.post(
            UPLOAD_URL, {"images": [upload("big.jpg", astronaut_jpeg)]}
        )

    assert by_api.status_code == 413
    assert by_api.json()["error"]["code"] == "too_large"
    assert by_page.status_code == 400
    assert "the limit is 10,000" in by_page.content.decode()
    assert_nothing_kept(media_root, callbacks)


def test_a_request_body_over_what_the_form_allows_is_413_before_it_is_read(
    settings, alice_client, astronaut_jpeg, media_root
):
    settings.FACESITE_MAX_FILES_PER_UPLOAD = 1
    settings.FACESITE_MAX_UPLOAD_BYTES = 10_000

    response = alice_client.post(
        UPLOAD_URL,
        {"images": [upload("big.jpg", astronaut_jpeg * 20)]},
        headers={"accept": "application/json"},
    )

    assert response.status_code == 413
    assert "more than allowed" in response.json()["errors"][0]
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("FACESITE_MAX_IMAGE_PIXELS", 100_000, "the limit is 100,000"),
        ("FACESITE_MAX_IMAGE_SIDE", 500, "no side may exceed 500"),
    ],
)
def test_the_pixel_and_side_caps_are_checked_before_storage(
    settings, api, astronaut_jpeg, media_root, setting, value, message,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    setattr(settings, setting, value)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(API_UPLOAD_URL, {"image": upload("a.jpg", astronaut_jpeg)})

    assert response.status_code == 413
    assert message in response.json()["error"]["message"]
    assert_nothing_kept(media_root, callbacks)


# --- Format from the bytes, re-encoded, metadata gone ---------------------------------


@pytest.mark.parametrize(
    ("image_format", "name", "stored"),
    [
        ("PNG", "photo.jpg", "png"),
        ("WEBP", "photo.png", "webp"),
        ("JPEG", "x.gif", "jpg"),
    ],
)
def test_the_format_comes_from_the_bytes_not_the_name(
    astronaut_rgb, image_format, name, stored, alice_client
):
    content = encode(Image.fromarray(astronaut_rgb[:64, :64]), image_format)

    response = alice_client.post(UPLOAD_URL, {"images": [upload(name, content)]})

    job = Job.objects.get()
    assert response.status_code == 302
    assert job.image.name.endswith(f".{stored}")
    assert open_stored(job.image.name).format == {"jpg": "JPEG"}.get(
        stored, stored.upper()
    )
    assert job.filename == name  # kept only as text
    # Exactly the pixels the original decodes to: recognition is unchanged.
    assert np.array_equal(
        load_image(stored_bytes(job.image.name), 10**8), load_image(content, 10**8)
    )


def test_an_upload_is_stored_without_exif_gps_or_xmp_and_upright(
    astronaut_rgb, alice_client
):
    rgb = astronaut_rgb[:300]  # 512 wide, 300 high
    content = photo_with_gps(rgb, orientation=6)
    assert CAMERA.encode() in content and XMP_OWNER.encode() in content

    alice_client.post(UPLOAD_URL, {"images": [upload("holiday.jpg", content)]})

    job = Job.objects.get()
    data = stored_bytes(job.image.name)
    stored = Image.open(io.BytesIO(data))
    assert CAMERA.encode() not in data and XMP_OWNER.encode() not in data
    assert b"Exif" not in data and b"http://ns.adobe.com/xap" not in data
    assert not stored.getexif() and "xmp" not in stored.info
    assert "icc_profile" not in stored.info
    # Orientation 6 applied to the pixels: now 300 wide and 512 high, as shown,
    # and exactly the pixels the pipeline would have decoded from the original.
    assert stored.size == (300, 512)
    assert np.array_equal(np.asarray(stored), load_image(content, 10**8))
    assert np.abs(np.asarray(stored, np.int16) - np.rot90(rgb, k=-1)).mean() < 6


def test_an_enrolment_photo_is_stored_re_encoded_and_deduplicated_by_its_original(
    astronaut_face_jpeg,
):
    face_rgb = np.asarray(Image.open(io.BytesIO(astronaut_face_jpeg)))
    # Stored sideways with an orientation tag that turns it upright.
    original = photo_with_gps(np.rot90(face_rgb, k=1), orientation=6)
    person = Person.objects.create(name="Eileen Collins")

    face = enroll_photo(person, original, "gps.jpg")

    data = stored_bytes(face.image.name)
    assert CAMERA.encode() not in data and XMP_OWNER.encode() not in data
    assert not Image.open(io.BytesIO(data)).getexif()
    assert Image.open(io.BytesIO(data)).size == face_rgb.shape[1::-1]
    assert face.sha256 == hashlib.sha256(original).hexdigest()
    with pytest.raises(EnrollmentError, match="already enrolled"):
        enroll_photo(person, original, "again.jpg")


def test_polyglot_enrolment_photos_are_refused(astronaut_face_jpeg, hostile):
    person = Person.objects.create(name="Eileen Collins")
    with pytest.raises(EnrollmentError, match="ZIP archive"):
        enroll_photo(person, hostile["jpeg-plus-zip.jpg"][0])
    with pytest.raises(EnrollmentError, match="decompression bomb"):
        enroll_photo(person, png_bomb())
    assert not person.faces.exists()


# --- Names and file modes ------------------------------------------------------


TRAVERSAL_NAMES = [
    "../../etc/passwd.jpg",
    "..\\..\\windows\\system32\\x.jpg",
    "/etc/cron.d/evil.jpg",
    "....//....//x.jpg",
    "../../x.jpg\x00.png",
    "%2e%2e%2fx.jpg",
]


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_traversal_names_write_nothing_outside_media_root(
    name, tmp_path, media_root, small_jpeg, alice_client, api
):
    before = sorted(path for path in tmp_path.rglob("*") if path.is_file())

    # Sent raw: the test client would keep only the base name.
    page = post_raw(alice_client, UPLOAD_URL, "images", name, small_jpeg)
    by_api = post_raw(api, API_UPLOAD_URL, "image", name, small_jpeg)

    assert (page.status_code, by_api.status_code) == (302, 202)
    after = sorted(path for path in tmp_path.rglob("*") if path.is_file())
    new = [path for path in after if path not in before]
    assert len(new) == 2
    assert all(path.parent == media_root / "uploads" for path in new)
    for job in Job.objects.all():
        assert "/" not in job.filename and "\\" not in job.filename
        assert "\x00" not in job.filename
        assert job.image.name.startswith("uploads/") and ".." not in job.image.name


def test_nul_bytes_and_paths_in_a_name_are_only_display_text(small_jpeg, media_root):
    job = create_job(small_jpeg, "../../evil\x00.php\x00.jpg", uuid.uuid4())

    assert job.filename == "evil.php.jpg"
    assert stored_files(media_root) == [job.image.name]
    assert job.image.name.startswith("uploads/") and job.image.name.endswith(".jpg")


def test_stored_files_are_mode_0640_in_0750_folders(
    astronaut_jpeg, astronaut_face_jpeg, media_root
):
    job = create_job(astronaut_jpeg, "a.jpg", uuid.uuid4())
    face = enroll_photo(Person.objects.create(name="E"), astronaut_face_jpeg)
    result = default_storage.save("results/1.jpg", ContentFile(astronaut_jpeg))

    for name in (job.image.name, face.image.name, result):
        assert mode(media_root / name) == 0o640, name
        assert mode((media_root / name).parent) == 0o750, name


def test_a_field_sent_twice_is_refused_not_read_as_its_last_value(
    api, small_jpeg, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(
            API_UPLOAD_URL,
            {
                "image": upload("a.jpg", small_jpeg),
                "callback_url": ["https://a.example/hook", "https://b.example/hook"],
            },
        )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "repeated"
    assert_nothing_kept(media_root, callbacks)


def test_an_upright_jpeg_is_stored_stripped_with_its_compressed_pixels_unchanged(
    astronaut_rgb, alice_client
):
    content = photo_with_gps(astronaut_rgb[:300], orientation=1)

    alice_client.post(UPLOAD_URL, {"images": [upload("holiday.jpg", content)]})

    data = stored_bytes(Job.objects.get().image.name)
    assert CAMERA.encode() not in data and XMP_OWNER.encode() not in data
    assert b"Exif" not in data and b"http://ns.adobe.com/xap" not in data
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG" and not stored.getexif()
    # The entropy-coded data is copied, not re-encoded: same pixels, fewer bytes.
    assert np.array_equal(np.asarray(stored), load_image(content, 10**8))
    assert len(data) < len(content)
