from __future__ import annotations

from django.urls import path

from . import views

app_name = "recognition"
urlpatterns = [
    path("", views.upload, name="upload"),
    path("submissions/<uuid:submission>/", views.submission, name="submission"),
    path(
        "submissions/<uuid:submission>/status",
        views.submission_status,
        name="submission_status",
    ),
    path("jobs/<int:pk>/", views.job, name="job"),
    path("jobs/<int:pk>/status", views.job_status, name="job_status"),
    path("media/<path:name>", views.media, name="media"),
]
