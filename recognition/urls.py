from __future__ import annotations

app_name = "recognition"
urlpatterns: list = []
