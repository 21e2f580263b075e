from __future__ import annotations

from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = "Recognition"

    def ready(self) -> None:
        from . import gallery, signals

        gallery.connect_signals()
        signals.connect()
