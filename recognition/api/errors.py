"""One JSON shape for every API error: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, JsonResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with its own status, code and (optionally) the field at fault."""

    def __init__(
        self, message: str, *, status_code: int, code: str, field: str | None = None
    ) -> None:
        super().__init__(message, code)
        self.status_code = status_code
        self.field = field


def too_large(message: str, field: str | None = None) -> ApiError:
    return ApiError(
        message,
        status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        code="too_large",
        field=field,
    )


def bad_request(message: str, code: str, field: str | None = None) -> ApiError:
    return ApiError(
        message, status_code=status.HTTP_400_BAD_REQUEST, code=code, field=field
    )


def translate(exc: Exception) -> Exception:
    """Django's request errors as API errors; anything else unchanged."""
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return too_large("The request body is larger than the server accepts.")
    if isinstance(exc, TooManyFilesSent):
        return bad_request("Too many files in one request.", "too_many_files")
    if isinstance(exc, TooManyFieldsSent):
        return bad_request("Too many fields in one request.", "too_many_fields")
    if isinstance(exc, SuspiciousOperation | UnreadablePostError):
        return bad_request("The request could not be read.", "bad_request")
    return exc


def first_error(detail: object, path: str | None = None) -> tuple[str | None, object]:
    """The first (field path, ErrorDetail) of a nested ValidationError detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = None if key == "non_field_errors" else str(key)
            if path is not None and name is not None:
                name = f"{path}.{name}" if not name.isdigit() else f"{path}[{name}]"
            return first_error(value, name if name is not None else path)
    if isinstance(detail, list) and detail:
        return first_error(detail[0], path)
    return path, detail


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def describe(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        field, detail = first_error(exc.detail)
        return error_body(getattr(detail, "code", "invalid"), str(detail), field)
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code
    return error_body(str(code), str(detail), getattr(exc, "field", None))


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler (status, WWW-Authenticate, Retry-After) with our body."""
    exc = translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django logs it and answers 500
    response.data = describe(exc)
    return response


@csrf_exempt  # it changes nothing; a CSRF refusal would be an HTML page
def not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Any path under /api/ that no endpoint answers."""
    body = error_body("not_found", f"No API endpoint at {request.path}.")
    return JsonResponse(body, status=status.HTTP_404_NOT_FOUND)


# --- OpenAPI --------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. `not_found`.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    field = serializers.CharField(
        allow_null=True, help_text="The parameter at fault, or null."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
