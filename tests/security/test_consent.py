"""Consent: recorded in the admin, the API and enroll_faces; mandatory when
FACESITE_REQUIRE_CONSENT is on (off by default)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from recognition.enrollment import EnrollmentError, enroll_photo
from recognition.models import AuditEntry, KnownFace, Person

pytestmark = pytest.mark.django_db

PURPOSE = "Door access at the lab, until revoked"


@pytest.fixture
def required(settings):
    settings.FACESITE_REQUIRE_CONSENT = True


def person_form(name: str, *photos: bytes, **consent: str) -> dict:
    """The admin's add-person form with new inline photos."""
    data = {
        "name": name,
        "tolerance": "",
        "consent_given_by": consent.get("given_by", ""),
        "consent_at_0": "",
        "consent_at_1": "",
        "consent_purpose": consent.get("purpose", ""),
        "faces-TOTAL_FORMS": str(len(photos)),
        "faces-INITIAL_FORMS": "0",
        "faces-MIN_NUM_FORMS": "0",
        "faces-MAX_NUM_FORMS": "1000",
    }
    for index, photo in enumerate(photos):
        data[f"faces-{index}-photo"] = SimpleUploadedFile(
            f"p{index}.jpg", photo, content_type="image/jpeg"
        )
    return data


def actions(person_id: int) -> list[str]:
    entries = AuditEntry.objects.filter(person_id_value=person_id).order_by("pk")
    return list(entries.values_list("action", flat=True))


def test_consent_is_optional_by_default(astronaut_face_jpeg):
    person = Person.objects.create(name="E")

    assert enroll_photo(person, astronaut_face_jpeg).pk


def test_when_required_enrolment_without_consent_is_refused(
    required, astronaut_face_jpeg
):
    person = Person.objects.create(name="E")
    with pytest.raises(EnrollmentError, match="Consent is required"):
        enroll_photo(person, astronaut_face_jpeg)

    person.consent_given_by = "E herself"
    person.consent_purpose = PURPOSE
    person.consent_at = timezone.now()
    person.save()
    assert enroll_photo(person, astronaut_face_jpeg).pk


def test_the_api_records_consent_and_enforces_it(required, api, astronaut_face_jpeg):
    created = api.post(
        "/api/v1/people", {"name": "Eileen Collins"}, format="json"
    ).json()
    faces_url = created["links"]["faces"]
    refused = api.post(
        faces_url, {"image": SimpleUploadedFile("a.jpg", astronaut_face_jpeg)}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "consent_required"

    incomplete = api.patch(
        created["links"]["self"], {"consent_given_by": "Eileen"}, format="json"
    )
    assert incomplete.status_code == 400

    recorded = api.patch(
        created["links"]["self"],
        {"consent_given_by": "Eileen Collins", "consent_purpose": PURPOSE},
        format="json",
    ).json()
    assert recorded["consent_purpose"] == PURPOSE
    assert recorded["consent_at"]
    enrolled = api.post(
        faces_url, {"image": SimpleUploadedFile("a.jpg", astronaut_face_jpeg)}
    )
    assert enrolled.status_code == 201
    assert actions(created["id"]) == ["create", "consent", "enrol"]
    consent = AuditEntry.objects.get(action="consent")
    assert consent.actor.startswith("api-key:")
    assert consent.details["purpose"] == PURPOSE


def test_the_api_takes_consent_when_creating_a_person(api):
    body = api.post(
        "/api/v1/people",
        {"name": "E", "consent_given_by": "E", "consent_purpose": PURPOSE},
        format="json",
    ).json()

    person = Person.objects.get()
    assert body["consent_given_by"] == "E" and person.consent_at is not None
    assert actions(person.pk) == ["create", "consent"]


def test_the_admin_records_consent_and_enforces_it(
    required, admin_client, astronaut_face_jpeg
):
    client = admin_client
    url = reverse("admin:recognition_person_add")

    refused = client.post(url, person_form("Eileen Collins", astronaut_face_jpeg))
    assert refused.status_code == 200
    assert "Consent is required" in refused.content.decode()
    assert not Person.objects.exists()

    response = client.post(
        url,
        person_form(
            "Eileen Collins",
            astronaut_face_jpeg,
            given_by="Eileen Collins",
            purpose=PURPOSE,
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    person = Person.objects.get()
    assert person.consent_at is not None  # defaults to now
    assert KnownFace.objects.filter(person=person).count() == 1
    assert actions(person.pk) == ["create", "consent", "enrol"]
    assert set(AuditEntry.objects.values_list("actor", flat=True)) == {"user:admin"}


def test_the_admin_wants_consent_complete(admin_client):
    response = admin_client.post(
        reverse("admin:recognition_person_add"), person_form("E", given_by="E")
    )

    assert response.status_code == 200
    assert "who gave it and for what purpose" in response.content.decode()


@pytest.fixture
def folder(tmp_path, astronaut_face_jpeg):
    root = tmp_path / "people"
    (root / "Eileen Collins").mkdir(parents=True)
    (root / "Eileen Collins" / "face.jpg").write_bytes(astronaut_face_jpeg)
    return root


def enroll(folder, *args: str) -> str:
    out = StringIO()
    call_command("enroll_faces", str(folder), *args, stdout=out)
    return out.getvalue()


def test_enroll_faces_skips_people_without_consent_when_required(required, folder):
    output = enroll(folder)

    assert "consent required" in output
    assert not Person.objects.exists()
    assert not AuditEntry.objects.exists()


def test_enroll_faces_records_the_consent_it_is_given(required, folder):
    output = enroll(folder, "--consent", PURPOSE, "--consent-by", "her guardian")

    person = Person.objects.get()
    assert "1 enrolled" in output
    assert (person.consent_purpose, person.consent_given_by) == (
        PURPOSE,
        "her guardian",
    )
    assert person.consent_at is not None
    assert actions(person.pk) == ["create", "consent", "enrol"]
    assert AuditEntry.objects.first().actor.startswith("command:enroll_faces")

    enroll(folder, "--consent", PURPOSE, "--consent-by", "her guardian")
    assert actions(person.pk).count("consent") == 1  # unchanged: not recorded again


def test_consent_by_needs_a_consent(folder):
    with pytest.raises(CommandError, match="--consent"):
        enroll(folder, "--consent-by", "someone")
