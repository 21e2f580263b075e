"""Pipeline options read from the settings at call time (never at import time)."""

from __future__ import annotations

from django.conf import settings

from .pipeline import DetectOptions


def detect_options() -> DetectOptions:
    return DetectOptions(
        detector=settings.FACESITE_DETECTOR,
        max_side=settings.FACESITE_DETECT_MAX_SIDE,
        upsample_max_pixels=settings.FACESITE_UPSAMPLE_MAX_PIXELS,
    )


def tolerance() -> float:
    return settings.FACESITE_TOLERANCE


def max_pixels() -> int:
    return settings.FACESITE_MAX_IMAGE_PIXELS


def margin() -> float:
    return settings.FACESITE_AMBIGUITY_MARGIN


def match_rule() -> str:
    return settings.FACESITE_MATCH_RULE


def min_identify_size() -> int:
    return settings.FACESITE_MIN_IDENTIFY_SIZE
