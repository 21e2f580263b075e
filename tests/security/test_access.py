"""Who may see what: logins, owners, staff, the kiosk setting, CSRF, throttling."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from recognition.enrollment import enroll_photo
from recognition.models import ApiKey, Job, Person
from tests.security.conftest import API_UPLOAD_URL, UPLOAD_URL, logged_in, upload

pytestmark = pytest.mark.django_db


def upload_as(client: Client, data: bytes, name: str = "photo.jpg"):
    return client.post(UPLOAD_URL, {"images": [upload(name, data)]})


def job_urls(job: Job) -> list[str]:
    """Every page and file of one job."""
    name = default_storage.save(f"results/{job.pk}.jpg", ContentFile(b"\xff\xd8\xff"))
    Job.objects.filter(pk=job.pk).update(result_path=name)
    return [
        reverse("recognition:submission", args=[job.submission]),
        reverse("recognition:submission_status", args=[job.submission]),
        reverse("recognition:job", args=[job.pk]),
        reverse("recognition:job_status", args=[job.pk]),
        reverse("recognition:media", args=[job.image.name]),
        reverse("recognition:media", args=[name]),
    ]


@pytest.fixture
def alice_job(alice_client, small_jpeg) -> Job:
    assert upload_as(alice_client, small_jpeg).status_code == 302
    return Job.objects.get()


# --- Login required by default ----------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, alice_job, small_jpeg):
    urls = [UPLOAD_URL, *job_urls(alice_job)]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{reverse('login')}?next=")

    assert upload_as(client, small_jpeg).status_code == 302
    assert Job.objects.count() == 1  # only alice's


def test_the_api_needs_a_key(small_jpeg):
    response = APIClient().post(API_UPLOAD_URL, {"image": upload("a.jpg", small_jpeg)})

    assert response.status_code == 401
    assert not Job.objects.exists()


def test_the_login_page_signs_in_and_out_in_the_sites_style(alice):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login") + "?next=/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "/static/css/site.css" in html and "csrfmiddlewaretoken" in html
    assert 'name="username"' in html and 'name="password"' in html

    token = page.cookies["csrftoken"].value
    signed_in = client.post(
        reverse("login"),
        {
            "username": "alice",
            "password": "pw-alice-123",
            "next": "/",
            "csrfmiddlewaretoken": token,
        },
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    home = client.get("/").content.decode()
    assert "Sign out" in home
    assert reverse("admin:index") not in home  # not staff: no admin link

    token = client.cookies["csrftoken"].value
    out = client.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert out.status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_with_a_message(alice):
    response = Client().post(
        reverse("login"), {"username": "alice", "password": "nope"}
    )

    assert response.status_code == 200
    assert "alert-error" in response.content.decode()


# --- Own jobs only, unless staff ------------------------------------------------------


def test_uploads_belong_to_their_user(alice, alice_job):
    assert alice_job.owner == alice


def test_a_user_sees_only_their_own_jobs_and_files(alice_client, alice_job, bob):
    urls = job_urls(alice_job)
    bob_client = logged_in(bob)

    for url in urls:
        assert alice_client.get(url).status_code == 200, url
        assert bob_client.get(url).status_code == 404, url


def test_staff_see_every_job(alice_job, staff):
    staff_client = logged_in(staff)

    for url in job_urls(alice_job):
        assert staff_client.get(url).status_code == 200, url


def test_enrolment_photos_are_for_staff_only(alice_client, staff, astronaut_face_jpeg):
    face = enroll_photo(Person.objects.create(name="E"), astronaut_face_jpeg)
    url = reverse("recognition:media", args=[face.image.name])

    assert alice_client.get(url).status_code == 404
    response = logged_in(staff).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_api_key_sees_only_the_jobs_it_sent(small_jpeg):
    clients = []
    for name in ("one", "two"):
        _key, raw = ApiKey.issue(name, ["recognize"])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        clients.append(client)
    sent = clients[0].post(API_UPLOAD_URL, {"image": upload("a.jpg", small_jpeg)})
    url = sent.json()["links"]["self"]

    assert clients[0].get(url).status_code == 200
    assert clients[1].get(url).status_code == 404
    assert clients[1].get(API_UPLOAD_URL).json()["count"] == 0


@pytest.mark.parametrize("url", ["/dashboard/", "/admin/"])
def test_the_dashboard_and_admin_are_staff_only(url, alice_client, staff):
    response = alice_client.get(url)
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert logged_in(staff).get(url).status_code == 200


# --- The kiosk setting -------------------------------------------------------------


def test_public_uploads_open_the_page_and_each_visitors_own_results(
    settings, small_jpeg, alice
):
    settings.FACESITE_PUBLIC_UPLOADS = True
    kiosk = Client()

    assert kiosk.get(UPLOAD_URL).status_code == 200
    response = upload_as(kiosk, small_jpeg)
    job = Job.objects.get()
    assert response.status_code == 302
    assert job.owner is None

    urls = job_urls(job)
    for url in urls:
        assert kiosk.get(url).status_code == 200, url
        assert Client().get(url).status_code == 404, url  # another visitor
        assert logged_in(alice).get(url).status_code == 404, url
    assert kiosk.get("/dashboard/").status_code == 302  # still staff-only


def test_without_public_uploads_anonymous_jobs_stay_hidden(settings, small_jpeg):
    settings.FACESITE_PUBLIC_UPLOADS = True
    kiosk = Client()
    upload_as(kiosk, small_jpeg)
    job = Job.objects.get()
    settings.FACESITE_PUBLIC_UPLOADS = False

    response = kiosk.get(reverse("recognition:job", args=[job.pk]))

    assert response.status_code == 302  # to the login page


# --- CSRF --------------------------------------------------------------------------


def test_the_upload_form_needs_its_csrf_token(alice, small_jpeg):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    refused = client.post(UPLOAD_URL, {"images": [upload("a.jpg", small_jpeg)]})
    assert refused.status_code == 403
    assert not Job.objects.exists()

    token = client.get(UPLOAD_URL).cookies["csrftoken"].value
    accepted = client.post(
        UPLOAD_URL,
        {"images": [upload("a.jpg", small_jpeg)], "csrfmiddlewaretoken": token},
    )
    assert accepted.status_code == 302
    assert Job.objects.count() == 1


def test_api_key_requests_need_no_csrf_token_but_sessions_do(small_jpeg, staff):
    _key, raw = ApiKey.issue("camera", ["recognize"])
    with_key = APIClient(enforce_csrf_checks=True)
    with_key.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    by_key = with_key.post(API_UPLOAD_URL, {"image": upload("a.jpg", small_jpeg)})

    session = APIClient(enforce_csrf_checks=True)
    session.force_login(staff)
    by_session = session.post(API_UPLOAD_URL, {"image": upload("b.jpg", small_jpeg)})

    assert by_key.status_code == 202
    assert by_session.status_code == 403
    assert Job.objects.count() == 1


# --- Throttling -----------------------------------------------------------------------


def test_web_uploads_are_throttled_per_user_across_sessions(
    settings, alice, bob, small_jpeg
):
    settings.FACESITE_UPLOAD_RATE = "2/minute"
    first, second = logged_in(alice), logged_in(alice)  # two browsers, one user

    assert upload_as(first, small_jpeg).status_code == 302
    assert upload_as(second, small_jpeg).status_code == 302
    refused = first.post(
        UPLOAD_URL,
        {"images": [upload("a.jpg", small_jpeg)]},
        headers={"accept": "application/json"},
    )

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many uploads" in refused.json()["errors"][0]
    assert Job.objects.count() == 2
    assert upload_as(logged_in(bob), small_jpeg).status_code == 302


def test_a_throttled_page_upload_says_so(settings, alice_client, small_jpeg):
    settings.FACESITE_UPLOAD_RATE = "1/hour"
    upload_as(alice_client, small_jpeg)

    response = upload_as(alice_client, small_jpeg)

    assert response.status_code == 429
    assert "Too many uploads" in response.content.decode()


def test_unknown_submissions_are_404_for_everyone(alice_client):
    url = reverse("recognition:submission", args=[uuid.uuid4()])
    assert alice_client.get(url).status_code == 404
