"""The staff dashboard and its JSON twin."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import metrics

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
