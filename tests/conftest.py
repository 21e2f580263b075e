from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from django.core.cache import cache
from PIL import Image

from recognition import gallery

CLOSED_BROKER = "redis://127.0.0.1:1/0"
FACES_DIR = Path(
    os.environ.get(
        "FACESITE_FACES_DIR", Path(__file__).resolve().parents[2] / "shared" / "faces"
    )
)


@pytest.fixture(scope="session", autouse=True)
def _no_shared_broker():
    """Nothing in the tests may publish to a Redis they did not start (e.g. :6379).

    The app points at a closed port; the integration tests point it at their own Redis.
    """
    previous = point_celery_at(CLOSED_BROKER)
    yield
    point_celery_at(previous)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Every test gets its own MEDIA_ROOT, a local cache and a fast password hasher."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    # The local-memory cache outlives a test: start each one with an empty cache, so
    # the gallery version (and so the gallery) never leaks from an earlier test.
    cache.clear()
    gallery.invalidate()
    yield


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    """scikit-image's astronaut: a real photograph of Eileen Collins' face."""
    from skimage import data

    return data.astronaut()


def jpeg_bytes(rgb: np.ndarray, quality: int = 92) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def astronaut_jpeg(astronaut_rgb) -> bytes:
    return jpeg_bytes(astronaut_rgb)


@pytest.fixture(scope="session")
def astronaut_face_jpeg(astronaut_rgb) -> bytes:
    """The top of the astronaut photo: exactly one face (her head), for enrolment."""
    return jpeg_bytes(astronaut_rgb[:300])


@pytest.fixture(scope="session")
def face_recognition_package():
    """The face_recognition package, the reference for the pipeline's dlib calls.

    Importing it turns on Pillow's LOAD_TRUNCATED_IMAGES for the whole process,
    which the pipeline never does (it does not import the package): turned back off
    here, so that the truncated-file tests see the service's setting.
    """
    import face_recognition
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return face_recognition


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES_DIR / "MANIFEST.csv").is_file():
        pytest.skip(
            f"shared face photos not found at {FACES_DIR}; set FACESITE_FACES_DIR "
            "to a folder laid out like ../shared/faces"
        )
    return FACES_DIR


def point_celery_at(broker_url: str) -> str:
    """Point the app's producers at another broker; returns the previous URL."""
    from facesite import celery_app

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = broker_url
    celery_app._after_fork()  # drops the cached connection and producer pools
    return previous


@pytest.fixture
def broker_down():
    """The Celery app points at a closed port: publishing and pinging fail fast."""
    previous = point_celery_at(CLOSED_BROKER)
    yield
    point_celery_at(previous)
