"""POST /detections: faces and boxes (and landmarks), no matching, no queue."""

from __future__ import annotations

import time

import numpy as np
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from .. import options
from ..pipeline import Box, ImageError, detect_faces, face_landmarks, load_image
from .base import UploadView, errors, read_photo
from .errors import bad_request
from .representation import box_data
from .serializers import DetectionSerializer, DetectionUploadSerializer


def landmarks_data(rgb: np.ndarray, boxes: list[Box], points: str) -> list[dict]:
    """Per box, feature name -> [[x, y], ...] in original-image pixels."""
    return [
        {name: [[int(x), int(y)] for x, y in xy] for name, xy in features.items()}
        for features in face_landmarks(rgb, boxes, int(points))
    ]


def detect(data: bytes, landmarks: str) -> dict:
    """The detection answer for one photo; ImageError when it is unusable."""
    detect_options = options.detect_options()
    clock = time.perf_counter()
    rgb = load_image(data, options.max_pixels())
    decoded = time.perf_counter()
    boxes = detect_faces(rgb, detect_options)
    detected = time.perf_counter()
    points = landmarks_data(rgb, boxes, landmarks) if landmarks != "none" else None
    timings = {
        "decode": round(decoded - clock, 4),
        "detect": round(detected - decoded, 4),
    }
    if points is not None:
        timings["landmarks"] = round(time.perf_counter() - detected, 4)
    height, width = rgb.shape[:2]
    return {
        "width": width,
        "height": height,
        "detector": detect_options.detector,
        "faces": [
            {"box": box_data(box), "landmarks": points[i] if points else None}
            for i, box in enumerate(boxes)
        ],
        "timings": timings,
    }


class Detections(UploadView):
    """Face detection without matching, answered at once."""

    @extend_schema(
        operation_id="detections_create",
        summary="Find the faces in a photo (boxes, optional landmarks); no matching",
        request={"multipart/form-data": DetectionUploadSerializer},
        responses={200: DetectionSerializer, **errors(400, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        params = self.validated(DetectionUploadSerializer, request.data)
        data = read_photo(params["image"], "image")
        try:
            result = detect(data, params["landmarks"])
        except ImageError as exc:
            raise bad_request(str(exc), "invalid_image", "image") from None
        return Response(self.output(DetectionSerializer, result))
