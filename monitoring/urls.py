from __future__ import annotations

from django.urls import path

from . import views

app_name = "monitoring"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("data", views.dashboard_data, name="dashboard_data"),
    path("performance/", views.performance, name="performance"),
]
