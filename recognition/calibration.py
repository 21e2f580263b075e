"""Calibrating the tolerance from the enrolled gallery (`manage.py calibrate`)."""

from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from django.db import transaction

from . import options
from .evaluation import calibrate_gallery
from .models import Calibration, KnownFace, Person

logger = logging.getLogger(__name__)


def bounds() -> tuple[float, float]:
    return settings.FACESITE_TOLERANCE_MIN, settings.FACESITE_TOLERANCE_MAX


def estimate(
    target_far: float, limits: tuple[float, float] | None = None
) -> Calibration:
    """A proposed (unsaved) calibration; tolerance falls back to the setting."""
    rows = [
        (pid, np.frombuffer(bytes(encoding), dtype=np.float64))
        for pid, encoding in KnownFace.objects.values_list("person_id", "encoding")
    ]
    low, high = limits or bounds()
    result = calibrate_gallery(
        rows,
        options.match_rule(),
        target_far,
        (low, high),
        settings.FACESITE_CALIBRATION_MIN_PHOTOS,
    )
    trusted = result.tolerance is not None and (
        result.impostor_searches >= settings.FACESITE_CALIBRATION_MIN_SEARCHES
    )
    return Calibration(
        tolerance=result.tolerance if trusted else options.tolerance(),
        target_far=target_far,
        people=result.people,
        genuine_pairs=result.genuine_pairs,
        impostor_pairs=result.impostor_searches,
        per_person={str(k): v for k, v in result.per_person.items()} if trusted else {},
        minimum=low,
        maximum=high,
    )


@transaction.atomic
def apply(calibration: Calibration) -> Calibration:
    """Make this calibration the one in use (global and per-person tolerances)."""
    calibration.applied = True
    calibration.save()
    Calibration.objects.exclude(pk=calibration.pk).update(applied=False)
    per_person = {int(k): v for k, v in calibration.per_person.items()}
    for person in Person.objects.filter(tolerance__isnull=False).exclude(
        pk__in=per_person
    ):
        person.tolerance = None
        person.save(update_fields=["tolerance"])
    for person in Person.objects.filter(pk__in=per_person):
        person.tolerance = per_person[person.pk]
        person.save(update_fields=["tolerance"])
    logger.info("Calibration applied: tolerance %.2f", calibration.tolerance)
    return calibration


def recalibrate(target_far: float) -> Calibration | None:
    """Estimate and apply when the estimate differs from the one in use."""
    proposed = estimate(target_far)
    current = Calibration.objects.filter(applied=True).first()
    if (
        current
        and abs(current.tolerance - proposed.tolerance) < 1e-9
        and (current.per_person == proposed.per_person)
    ):
        return None
    return apply(proposed)
