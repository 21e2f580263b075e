"""The in-memory gallery of enrolled encodings, one copy per process.

Each process keeps the matrix it built and the version it was built from. Any change
to people or faces stores a new version in the shared cache (Redis), so every worker
reloads on its next job: one cache read per job, never a database query per face.
"""

from __future__ import annotations

import logging
import threading
import uuid

import numpy as np
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from . import options
from .pipeline import Gallery

logger = logging.getLogger(__name__)

VERSION_KEY = "gallery:version"

_lock = threading.Lock()
_loaded: dict[str, object] = {"version": None, "gallery": None}


def load() -> Gallery:
    """Build a Gallery from every enrolled face in the database."""
    from .models import Calibration, KnownFace, Person

    rows = KnownFace.objects.values_list("person_id", "person__name", "encoding")
    applied = Calibration.objects.filter(applied=True).first()
    return Gallery(
        (
            (pid, name, np.frombuffer(bytes(encoding), dtype=np.float64))
            for pid, name, encoding in rows.iterator(chunk_size=2000)
        ),
        rule=options.match_rule(),
        tolerance=applied.tolerance if applied else options.tolerance(),
        person_tolerances=dict(
            Person.objects.filter(tolerance__isnull=False).values_list(
                "pk", "tolerance"
            )
        ),
    )


def version() -> str | None:
    """The gallery version in the shared cache; None when the cache is unreachable."""
    try:
        current = cache.get(VERSION_KEY)
        if current is None:
            # An empty cache (first start, Redis restarted) gets a fresh version, so
            # every process reloads once.
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            current = cache.get(VERSION_KEY)
    except Exception:  # noqa: BLE001 - any cache failure means "cannot tell"
        logger.warning("Gallery version unavailable; reloading from the database")
        return None
    return current


def current() -> Gallery:
    """This process's gallery, reloaded when the shared version has changed."""
    wanted = version()
    with _lock:
        if wanted is None or wanted != _loaded["version"] or _loaded["gallery"] is None:
            _loaded["gallery"] = load()
            _loaded["version"] = wanted
        return _loaded["gallery"]  # type: ignore[return-value]


def invalidate() -> None:
    """Tell every process that the gallery changed."""
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001
        logger.warning(
            "Could not publish a new gallery version; workers reload on cache loss"
        )
    with _lock:
        _loaded["version"] = None


def _changed(sender: type, **kwargs: object) -> None:
    # This process reloads at once (it can read its own uncommitted rows); the others
    # learn of the change when it is committed.
    with _lock:
        _loaded["version"] = None
    transaction.on_commit(invalidate)


def connect_signals() -> None:
    from .models import Calibration, KnownFace, Person

    post_save.connect(_changed, sender=KnownFace, dispatch_uid="gallery-face-saved")
    post_delete.connect(_changed, sender=KnownFace, dispatch_uid="gallery-face-deleted")
    post_save.connect(_changed, sender=Person, dispatch_uid="gallery-person-saved")
    post_delete.connect(_changed, sender=Person, dispatch_uid="gallery-person-deleted")
    post_save.connect(_changed, sender=Calibration, dispatch_uid="gallery-calibrated")
