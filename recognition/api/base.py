"""What every API view shares: request size caps, parsing, errors, links."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..uploads import UploadError, read_upload
from .errors import ApiError, ErrorSerializer, bad_request, too_large
from .throttling import ApiKeyThrottle, UploadThrottle

UPLOAD_CODES = {400: "invalid_image", 413: "too_large", 415: "unsupported_image"}
# Room for the multipart boundaries and the form fields beside the files.
ENVELOPE_BYTES = 1024 * 1024

ERROR_DESCRIPTIONS = {
    400: "Bad parameter or unusable image",
    401: "No or invalid API key",
    403: "The key lacks the scope (or the user is not staff)",
    404: "No such object",
    409: "Conflict with the object's state",
    413: "Upload too large",
    415: "Not a supported image (JPEG, PNG, WebP) or wrong content type",
    429: "Too many requests; see Retry-After",
}


def errors(*codes: int) -> dict:
    """OpenAPI responses for these error statuses, plus 401/403/429 always."""
    wanted = sorted({401, 403, 429, *codes})
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in wanted
    }


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_number(self, request: Request, paginator: object) -> str:
        raw = request.query_params.get(self.page_query_param, "1")
        if not raw.isdigit():
            raise bad_request(
                "page must be a positive integer.", "invalid", self.page_query_param
            )
        return raw

    def get_page_size(self, request: Request) -> int:
        # Strict, unlike DRF's: a bad page_size is an error, not the default.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise bad_request(
                f"page_size must be an integer from 1 to {self.max_page_size}.",
                "invalid",
                self.page_size_query_param,
            )
        return int(raw)


class ApiView(APIView):
    """An API endpoint. `max_files`: photos one request may carry (0: none)."""

    max_files = 0
    throttle_classes = [ApiKeyThrottle]

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        self.check_length(request)

    def check_length(self, request: Request) -> None:
        # Refuse an oversized body from its header, before reading a byte of it.
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
        if files := self.files_allowed():
            cap = files * settings.FACESITE_MAX_UPLOAD_BYTES + ENVELOPE_BYTES
        if length > cap:
            raise too_large(f"The request is {length:,} bytes; the limit is {cap:,}.")

    def files_allowed(self) -> int:
        return self.max_files

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path)

    def validated(self, serializer_class: type, data: object, **kwargs: object) -> dict:
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def output(self, serializer_class: type, data: object, many: bool = False) -> dict:
        return serializer_class(data, many=many).data

    def paginated(
        self, queryset: QuerySet, serializer_class: type, to_data: Callable
    ) -> Response:
        """One page of the queryset, each row as to_data(row), with count and links."""
        paginator = Pagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        items = [to_data(row) for row in page]
        data = self.output(serializer_class, items, many=True)
        return paginator.get_paginated_response(data)


class UploadView(ApiView):
    """Takes photos: multipart only, and the stricter upload rate."""

    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = [ApiKeyThrottle, UploadThrottle]
    max_files = 1


def read_photo(upload: UploadedFile, field: str) -> bytes:
    """The bytes of an uploaded photo, or the API error that says why not."""
    if not isinstance(upload, UploadedFile):
        raise ApiError("Expected a file.", status_code=400, code="invalid", field=field)
    try:
        return read_upload(upload)
    except UploadError as exc:
        code = UPLOAD_CODES.get(exc.status, "invalid_image")
        raise ApiError(
            str(exc), status_code=exc.status, code=code, field=field
        ) from None
