from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from monitoring import checks

pytestmark = pytest.mark.django_db

HEALTH = reverse("probes:health")
READY = reverse("probes:ready")
READINESS = {
    "database",
    "redis",
    "workers",
    "storage",
    "disk",
    "migrations",
    "face_models",
}


def test_liveness_answers_with_the_database_check(client):
    response = client.get(HEALTH)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {
                "ok": True,
                "detail": f"{connection.vendor} answers",
                "ms": response.json()["checks"]["database"]["ms"],
            }
        },
    }
    assert "no-cache" in response["Cache-Control"]


def test_readiness_fails_with_one_entry_per_check_when_redis_is_down(client):
    response = client.get(READY)

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert set(body["checks"]) == READINESS
    failed = {name for name, check in body["checks"].items() if not check["ok"]}
    assert failed == {"redis", "workers"}
    assert "broker unreachable" in body["checks"]["workers"]["detail"]
    assert "dlib" in body["checks"]["face_models"]["detail"]


def test_redis_answers_but_no_worker_does(metrics_redis, settings):
    settings.FACESITE_HEALTH_PING_TIMEOUT = 0.2

    results = {r.name: r for r in checks.run_all(checks.READINESS)}

    assert results["redis"].ok
    assert results["redis"].detail.startswith("PING answered")
    assert not results["workers"].ok
    assert results["workers"].detail == "no worker answered a ping within 0.2 s"


def test_disk_check_fails_below_the_configured_free_space(settings):
    settings.FACESITE_HEALTH_MIN_FREE_MB = 10**12

    result = checks.run("disk", checks.disk)

    assert not result.ok
    assert "minimum 1,000,000,000,000 MB" in result.detail


def test_storage_check_leaves_no_file_behind(settings):
    result = checks.run("storage", checks.storage)

    assert result.ok
    assert list((settings.MEDIA_ROOT / "temp").iterdir()) == []


def test_migrations_check_names_an_unapplied_migration():
    assert checks.run("migrations", checks.migrations).ok
    checks._migrations_done.clear()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = %s AND name = %s",
            ["monitoring", "0002_worker_snapshot"],
        )

    result = checks.run("migrations", checks.migrations)

    assert not result.ok
    assert result.detail == "1 unapplied: monitoring.0002_worker_snapshot"


def test_check_health_command_fails_when_a_check_fails(capsys):
    with pytest.raises(CommandError, match="2 check\\(s\\) failed: redis, workers"):
        call_command("check_health")

    out = capsys.readouterr().out
    assert "FAIL  redis" in out
    assert "ok    database" in out


def test_check_health_command_passes_the_liveness_checks(capsys):
    call_command("check_health", "--live")

    out = capsys.readouterr().out
    assert "ok    database" in out
    assert "All 1 checks passed." in out


def test_check_health_command_prints_json(capsys):
    with pytest.raises(CommandError):
        call_command("check_health", "--json")

    out = capsys.readouterr().out
    assert '"status": "fail"' in out
    assert '"face_models"' in out


def test_face_models_check_refuses_an_encoder_file_that_is_not_the_network(tmp_path):
    import face_recognition_models

    real = face_recognition_models.face_recognition_model_location()
    checks.encoder_network(Path(real))  # the shipped file passes
    broken = tmp_path / checks.ENCODER_FILE
    broken.write_bytes(Path(real).read_bytes()[:1_000_000])

    with pytest.raises(checks.CheckFailed, match="not the face encoder"):
        checks.encoder_network(broken)
