"""The staff dashboard, its JSON twin, the performance page, health and /metrics."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import checks, exposition, metrics, runs

POLL_SECONDS = 5


@staff_member_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {"data": metrics.snapshot(), "poll_seconds": POLL_SECONDS}
    return render(request, "monitoring/dashboard.html", context)


@staff_member_required
@never_cache
@require_safe
def dashboard_data(request: HttpRequest) -> JsonResponse:
    return JsonResponse(metrics.snapshot())


@staff_member_required
@require_safe
def performance(request: HttpRequest) -> HttpResponse:
    return render(request, "monitoring/performance.html", runs.page())


def health_response(results: list[checks.Result]) -> JsonResponse:
    body = checks.report(results)
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers and reaches its database."""
    return health_response(checks.run_all(checks.LIVENESS))


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: everything a job needs, one entry per check."""
    return health_response(checks.run_all(checks.READINESS))


def metrics_allowed(request: HttpRequest) -> bool:
    """A bearer token equal to FACESITE_METRICS_TOKEN, or a staff session."""
    token = settings.FACESITE_METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and constant_time_compare(given, token):
        return True
    return request.user.is_active and request.user.is_staff


@never_cache
@require_safe
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        response = HttpResponse("Authentication required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition.render(), content_type=exposition.CONTENT_TYPE)
