"""POST/GET /recognitions, GET/DELETE /recognitions/{id}, its annotated image."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from ..models import Job
from . import jobs
from .base import ApiView, Pagination, UploadView, errors, read_photo
from .errors import ApiError
from .representation import recognition_data
from .serializers import (
    RecognitionBatchSerializer,
    RecognitionFilterSerializer,
    RecognitionSerializer,
    RecognitionUploadSerializer,
    WaitQuerySerializer,
)

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    OpenApiParameter.HEADER,
    description="Repeat a request safely: the same key within 24 h returns the "
    "same job (200) instead of making another.",
)
ONE_OR_MANY = PolymorphicProxySerializer(
    component_name="RecognitionOrBatch",
    serializers=[RecognitionSerializer, RecognitionBatchSerializer],
    resource_type_field_name=None,
)


def max_wait(seconds: int) -> int:
    """The wait asked for, capped by FACESITE_API_MAX_WAIT (web workers are few)."""
    return min(seconds, settings.FACESITE_API_MAX_WAIT)


def idempotency_key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return ""
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            status_code=400,
            code="invalid",
            field="Idempotency-Key",
        )
    return key


class RecognitionList(UploadView):
    """Recognition jobs: send photos, list what was sent."""

    pagination_class = Pagination

    def files_allowed(self) -> int:
        return settings.FACESITE_MAX_FILES_PER_UPLOAD

    @extend_schema(
        operation_id="recognitions_create",
        summary="Recognise the faces in one photo (or several)",
        parameters=[WaitQuerySerializer, IDEMPOTENCY_HEADER],
        request={"multipart/form-data": RecognitionUploadSerializer},
        responses={
            200: OpenApiResponse(ONE_OR_MANY, description="Finished, or a replay"),
            202: OpenApiResponse(ONE_OR_MANY, description="Queued or running"),
            **errors(400, 409, 413, 415),
        },
    )
    def post(self, request: Request) -> Response:
        query = self.validated(WaitQuerySerializer, request.query_params)
        params = self.validated(RecognitionUploadSerializer, request.data)
        wait = max_wait(params.get("wait", query.get("wait", 0)))
        key = idempotency_key(request)
        batch = "images" in params
        found, replayed = self.find_or_submit(request, params, key)
        if wait:
            found = jobs.wait_until_final(found, wait)
        return self.answer(found, batch, replayed)

    def find_or_submit(
        self, request: Request, params: dict, key: str
    ) -> tuple[list[Job], bool]:
        if not key:
            return jobs.submit(request, self.submission(params, key)), False
        found = jobs.replay(request, key)
        if found:
            return found, True
        lock = jobs.lock_name(request, key)
        if not jobs.acquire(lock):
            raise ApiError(
                "A request with this Idempotency-Key is still being handled.",
                status_code=409,
                code="conflict",
                field="Idempotency-Key",
            )
        try:
            found = jobs.replay(request, key)
            if found:
                return found, True
            return jobs.submit(request, self.submission(params, key)), False
        finally:
            jobs.release(lock)

    def submission(self, params: dict, key: str) -> jobs.Submission:
        files = [
            (upload.name or "upload", read_photo(upload, field))
            for upload, field in zip(
                params["files"], self.file_fields(params), strict=True
            )
        ]
        return jobs.Submission(
            files=files,
            priority=params["priority"],
            limit=params["limit"],
            tolerance=params.get("tolerance"),
            callback_url=params.get("callback_url", ""),
            idempotency_key=key,
        )

    def file_fields(self, params: dict) -> list[str]:
        if "image" in params:
            return ["image"]
        return [f"images[{i}]" for i in range(len(params["images"]))]

    def answer(self, found: list[Job], batch: bool, replayed: bool) -> Response:
        done = all(job.is_final for job in found)
        code = status.HTTP_200_OK if done or replayed else status.HTTP_202_ACCEPTED
        items = [recognition_data(job, self.absolute) for job in found]
        if batch:
            body = {"submission": found[0].submission, "count": len(found)}
            body["results"] = items
            data = self.output(RecognitionBatchSerializer, body)
        else:
            data = self.output(RecognitionSerializer, items[0])
        headers = {"Location": data["links"]["self"]} if not batch else {}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(data, status=code, headers=headers)

    @extend_schema(
        operation_id="recognitions_list",
        summary="The jobs this key sent (staff: every job), newest first",
        parameters=[RecognitionFilterSerializer],
        responses={200: RecognitionSerializer(many=True), **errors(400, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = self.validated(RecognitionFilterSerializer, request.query_params)
        queryset = jobs.filter_jobs(jobs.visible_jobs(request), filters)
        return self.paginated(
            queryset.order_by("-created_at", "-id"),
            RecognitionSerializer,
            lambda job: recognition_data(job, self.absolute),
        )


class RecognitionDetail(ApiView):
    """One recognition job."""

    @extend_schema(
        operation_id="recognitions_retrieve",
        summary="One job and, once finished, its faces",
        parameters=[WaitQuerySerializer],
        responses={200: RecognitionSerializer, **errors(400, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(jobs.visible_jobs(request), pk=pk)
        query = self.validated(WaitQuerySerializer, request.query_params)
        wait = max_wait(query.get("wait", 0))
        if wait:
            (job,) = jobs.wait_until_final([job], wait)
        data = self.output(RecognitionSerializer, recognition_data(job, self.absolute))
        return Response(data)

    @extend_schema(
        operation_id="recognitions_destroy",
        summary="Delete the job, its upload and its annotated image",
        responses={204: None, **errors(404, 409)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(jobs.visible_jobs(request), pk=pk)
        if job.status == Job.Status.STARTED:
            # Its worker would write the result image after the row is gone.
            raise ApiError(
                "The job is running; delete it once it has finished.",
                status_code=409,
                code="conflict",
            )
        job.delete()  # the files follow after commit (recognition.signals)
        return Response(status=status.HTTP_204_NO_CONTENT)


class JPEGRenderer(BaseRenderer):
    media_type = "image/jpeg"
    format = "jpg"
    charset = None
    render_style = "binary"

    def render(
        self,
        data: object,
        accepted_media_type: str | None = None,
        renderer_context: dict | None = None,
    ) -> object:
        return data  # the view answers with the file itself


class AnnotatedImage(ApiView):
    """The annotated result image of a job."""

    renderer_classes = [JSONRenderer, JPEGRenderer]

    @extend_schema(
        operation_id="recognitions_annotated_image",
        summary="The photo with boxes and names (JPEG), once the job succeeded",
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY),
            **errors(404),
        },
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        job = get_object_or_404(jobs.visible_jobs(request), pk=pk)
        if not job.result_path or not default_storage.exists(job.result_path):
            raise ApiError(
                "This job has no annotated image (yet).",
                status_code=404,
                code="not_found",
            )
        response = FileResponse(
            default_storage.open(job.result_path, "rb"), content_type="image/jpeg"
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def finalize_response(
        self, request: Request, response: Response, *args: object, **kwargs: object
    ) -> Response:
        # Errors are JSON even when the client asked for image/jpeg.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
