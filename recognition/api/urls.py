"""/api/v1/…: every path answers with and without a trailing slash."""

from __future__ import annotations

from django.urls import URLPattern, path, re_path, register_converter
from django.views.generic import View

from . import detections, people, recognitions, verify
from .errors import not_found

app_name = "api"


class IdConverter:
    """A row id: at most 18 digits, so it always fits a 64-bit column (a longer
    number would overflow the database driver; here it is simply not found)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "api_id")


def route(pattern: str, view: type[View], name: str) -> list[URLPattern]:
    """The path without a slash (named, in the schema) and with one (an alias)."""
    return [
        path(pattern, view.as_view(), name=name),
        path(f"{pattern}/", view.as_view(schema=None)),
    ]


urlpatterns = [
    *route("recognitions", recognitions.RecognitionList, "recognitions"),
    *route("recognitions/<api_id:pk>", recognitions.RecognitionDetail, "recognition"),
    *route(
        "recognitions/<api_id:pk>/annotated",
        recognitions.AnnotatedImage,
        "recognition-annotated",
    ),
    *route("detections", detections.Detections, "detections"),
    *route("verify", verify.Verify, "verify"),
    *route("people", people.PeopleList, "people"),
    *route("people/<api_id:pk>", people.PersonDetail, "person"),
    *route("people/<api_id:pk>/faces", people.PersonFaces, "person-faces"),
    *route(
        "people/<api_id:pk>/faces/<api_id:face_id>", people.PersonFace, "person-face"
    ),
    *route("people/<api_id:pk>/merge", people.PersonMerge, "person-merge"),
    # Anything else under /api/v1/ is a JSON 404, not the site's HTML page.
    re_path(r"^.*$", not_found),
]
