"""POST /verify: is it the same person, in two photos or a photo and a person?"""

from __future__ import annotations

import numpy as np
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from .. import gallery, options
from ..models import Person
from ..pipeline import Box, ImageError, detect_faces, encode_faces, load_image
from .base import UploadView, errors, read_photo
from .errors import bad_request
from .representation import box_data, person_ref
from .serializers import VerificationSerializer, VerifyUploadSerializer


def area(box: Box) -> int:
    top, right, bottom, left = box
    return (bottom - top) * (right - left)


def largest_face(data: bytes, field: str) -> tuple[Box, np.ndarray, int]:
    """The largest face's box and encoding, and how many faces the photo has."""
    try:
        rgb = load_image(data, options.max_pixels())
        boxes = detect_faces(rgb, options.detect_options())
    except ImageError as exc:
        raise bad_request(str(exc), "invalid_image", field) from None
    if not boxes:
        raise bad_request("No face was found in this photo.", "no_face", field)
    box = max(boxes, key=area)
    (encoding,) = encode_faces(rgb, [box])
    return box, encoding, len(boxes)


def enrolled_person(person_id: int) -> Person:
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise bad_request("No such person.", "not_found", "person")
    if not person.faces.exists():
        raise bad_request(f"{person.name} has no enrolled faces.", "no_faces", "person")
    return person


def person_distance(person: Person, encoding: np.ndarray) -> float:
    """Distance to an enrolled person, measured as recognition measures it."""
    current = gallery.current()
    columns = np.flatnonzero(current.person_ids == person.pk)
    if not len(columns):  # enrolled a moment ago, in a transaction not visible yet
        raise bad_request(f"{person.name} has no enrolled faces.", "no_faces", "person")
    distances = current.person_distances(np.atleast_2d(encoding))
    return float(distances[0, columns[0]])


class Verify(UploadView):
    """Face verification, answered at once."""

    max_files = 2

    @extend_schema(
        operation_id="verify_create",
        summary="Same person or not: two photos, or a photo and an enrolled person",
        description="Each photo's largest face is compared.",
        request={"multipart/form-data": VerifyUploadSerializer},
        responses={200: VerificationSerializer, **errors(400, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        params = self.validated(VerifyUploadSerializer, request.data)
        tolerance = params.get("tolerance", options.tolerance())
        # The cheap checks first: both uploads and the person, then the models.
        data = read_photo(params["image"], "image")
        other = params.get("other_image")
        other_data = read_photo(other, "other_image") if other else None
        person = enrolled_person(params["person"]) if "person" in params else None
        box, encoding, count = largest_face(data, "image")
        faces = [{"box": box_data(box), "faces_found": count}]
        if person is not None:
            distance = person_distance(person, encoding)
        else:
            other_box, other_encoding, other_count = largest_face(
                other_data, "other_image"
            )
            faces.append({"box": box_data(other_box), "faces_found": other_count})
            distance = float(np.linalg.norm(encoding - other_encoding))
        result = {
            "match": distance <= tolerance,
            "distance": round(distance, 4),
            "tolerance": tolerance,
            "faces": faces,
            "person": person_ref(person.pk, person.name) if person else None,
        }
        return Response(self.output(VerificationSerializer, result))
