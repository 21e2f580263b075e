from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def test_diagnose_reports_everything_and_says_no_worker_answered(capsys, settings):
    settings.FACESITE_METRICS_TOKEN = "do-not-print-me"
    settings.SECRET_KEY = "another-secret-never-printed"

    with pytest.raises(CommandError) as raised:
        call_command("diagnose")

    out = capsys.readouterr().out
    assert str(raised.value) == (
        "Problems found: redis check failed; workers check failed; no worker answered"
    )
    for heading in ("Versions", "Settings", "Health", "Queues", "Gallery and jobs"):
        assert heading in out
    assert "Django 5.2" in out
    assert "face_recognition 1.3.0" in out
    assert "do-not-print-me" not in out
    assert "another-secret-never-printed" not in out
    assert "FACESITE_METRICS_TOKEN = *** (15 characters)" in out
    assert "SECRET_KEY = *** (28 characters)" in out
    assert "No Celery worker answered a ping" in out
    assert "0 people, 0 enrolled encodings" in out


def test_diagnose_masks_passwords_in_urls(capsys, settings):
    settings.REDIS_URL = "redis://:hunter2@127.0.0.1:1/0"

    with pytest.raises(CommandError):
        call_command("diagnose", "--skip-job")

    out = capsys.readouterr().out
    assert "hunter2" not in out
    assert "REDIS_URL = redis://:**@127.0.0.1:1/0" in out
    assert "skipped (--skip-job)" in out
