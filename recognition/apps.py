from __future__ import annotations

from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = "Recognition"

    def ready(self) -> None:
        from . import admin_review, gallery, signals  # noqa: F401 - registers admin pages

        gallery.connect_signals()
        signals.connect()
