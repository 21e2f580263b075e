"""Health probes and the Prometheus endpoint, at the site's root (not /dashboard/)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "probes"
urlpatterns = [
    path("health/", views.health, name="health"),
    path("health/ready/", views.ready, name="ready"),
    path("metrics", views.prometheus_metrics, name="metrics"),
]
