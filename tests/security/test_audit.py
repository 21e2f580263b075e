"""The audit log: every enrolment change, from the admin, the API and the
commands, with who did it; read-only in the admin; never biometric data."""

from __future__ import annotations

import io
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from recognition.models import AuditEntry, KnownFace, Person
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.django_db


def photo(data: bytes, name: str = "p.jpg") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def log() -> list[tuple[str, int | None]]:
    entries = AuditEntry.objects.order_by("pk")
    return list(entries.values_list("action", "person_id_value"))


def assert_no_biometrics() -> None:
    for entry in AuditEntry.objects.all():
        for value in entry.details.values():
            assert isinstance(value, int | str | type(None)), entry.details
        assert "encoding" not in str(entry.details)


def test_the_api_audits_every_change(api, astronaut_face_jpeg, astronaut_rgb):
    person = api.post("/api/v1/people", {"name": "Ann"}, format="json").json()
    other = api.post("/api/v1/people", {"name": "Bob"}, format="json").json()
    face = api.post(person["links"]["faces"], {"image": photo(astronaut_face_jpeg)})
    api.delete(face.json()["links"]["self"])
    api.patch(person["links"]["self"], {"name": "Anne"}, format="json")
    api.post(
        reverse("api:person-merge", args=[person["id"]]),
        {"from": other["id"]},
        format="json",
    )
    api.delete(person["links"]["self"])

    ann, bob = person["id"], other["id"]
    assert log() == [
        ("create", ann),
        ("create", bob),
        ("enrol", ann),
        ("remove_face", ann),
        ("rename", ann),
        ("merge", ann),
        ("forget", ann),
    ]
    actors = set(AuditEntry.objects.values_list("actor", flat=True))
    assert len(actors) == 1
    assert actors.pop().endswith(" (security-tests)")  # api-key:<prefix> (its name)
    assert_no_biometrics()


def test_the_admin_audits_create_enrol_rename_and_removal(
    admin_client, astronaut_face_jpeg
):
    add = reverse("admin:recognition_person_add")
    admin_client.post(
        add,
        {
            "name": "Ann",
            "faces-TOTAL_FORMS": "1",
            "faces-INITIAL_FORMS": "0",
            "faces-MIN_NUM_FORMS": "0",
            "faces-MAX_NUM_FORMS": "1000",
            "faces-0-photo": SimpleUploadedFile("a.jpg", astronaut_face_jpeg),
        },
    )
    person = Person.objects.get()
    face = KnownFace.objects.get()
    admin_client.post(
        reverse("admin:recognition_person_change", args=[person.pk]),
        {
            "name": "Anne",
            "faces-TOTAL_FORMS": "1",
            "faces-INITIAL_FORMS": "1",
            "faces-MIN_NUM_FORMS": "0",
            "faces-MAX_NUM_FORMS": "1000",
            "faces-0-id": str(face.pk),
            "faces-0-person": str(person.pk),
            "faces-0-DELETE": "on",
        },
    )

    assert log() == [
        ("create", person.pk),
        ("enrol", person.pk),
        ("rename", person.pk),
        ("remove_face", person.pk),
    ]
    rename = AuditEntry.objects.get(action="rename")
    assert rename.details == {"old_name": "Ann", "new_name": "Anne"}
    assert rename.actor == "user:admin"
    assert not KnownFace.objects.exists()


def test_the_commands_audit_as_themselves(tmp_path, astronaut_face_jpeg, astronaut_rgb):
    (tmp_path / "Ann").mkdir()
    (tmp_path / "Ann" / "a.jpg").write_bytes(astronaut_face_jpeg)
    (tmp_path / "Nobody").mkdir()
    (tmp_path / "Nobody" / "grey.jpg").write_bytes(jpeg_bytes(astronaut_rgb[:20, :20]))

    call_command("enroll_faces", str(tmp_path), stdout=StringIO())
    ann = Person.objects.get(name="Ann")
    call_command("forget_person", "Ann", stdout=StringIO())

    actions = [action for action, _pk in log()]
    assert actions == ["create", "enrol", "create", "delete", "forget"]
    actors = set(AuditEntry.objects.values_list("actor", flat=True))
    assert {actor.split(" ")[0] for actor in actors} == {
        "command:enroll_faces",
        "command:forget_person",
    }
    assert AuditEntry.objects.get(action="forget").person_id_value == ann.pk
    assert_no_biometrics()


def test_the_audit_log_is_read_only_in_the_admin(admin_client):
    entry = AuditEntry.objects.create(action="create", actor="x", person_id_value=1)

    changelist = admin_client.get(reverse("admin:recognition_auditentry_changelist"))
    add = admin_client.get(reverse("admin:recognition_auditentry_add"))
    change = admin_client.post(
        reverse("admin:recognition_auditentry_change", args=[entry.pk]),
        {"actor": "someone else"},
    )
    delete = admin_client.post(
        reverse("admin:recognition_auditentry_delete", args=[entry.pk]), {"post": "yes"}
    )

    assert changelist.status_code == 200
    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.actor == "x"
