"""The REST API with a real Redis and a real `celery worker`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from recognition import webhooks
from recognition.enrollment import enroll_photo
from recognition.models import ApiKey, Job, Person, WebhookDelivery

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NAME = "Eileen Collins"
SECRET = "integration-webhook-secret"
URL = "/api/v1/recognitions"


@pytest.fixture
def eileen(astronaut_face_jpeg) -> Person:
    person = Person.objects.create(name=NAME)
    enroll_photo(person, astronaut_face_jpeg, "eileen-collins.jpg")
    return person


@pytest.fixture
def api(transactional_db) -> APIClient:
    _key, raw_key = ApiKey.issue("integration", ["recognize"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    """A local HTTP server that records every POST it gets."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"headers": dict(self.headers), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def photo(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("astronaut.jpg", data, "image/jpeg")


def test_recognize_with_wait_returns_the_finished_job(
    api, eileen, start_worker, astronaut_jpeg
):
    start_worker()

    response = api.post(URL, {"image": photo(astronaut_jpeg), "wait": 30})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["final"]) == ("SUCCESS", True)
    names = [face["person"]["name"] for face in body["faces"] if face["person"]]
    assert names == [NAME]
    image = api.get(body["links"]["annotated_image"])
    assert (image.status_code, image["Content-Type"]) == (200, "image/jpeg")


def test_a_webhook_arrives_signed(
    api, eileen, start_worker, wait_for_job, astronaut_jpeg, receiver, settings
):
    url, received = receiver
    settings.FACESITE_WEBHOOK_SECRET = SECRET
    start_worker(FACESITE_WEBHOOK_SECRET=SECRET)

    response = api.post(URL, {"image": photo(astronaut_jpeg), "callback_url": url})
    job = wait_for_job(Job.objects.get(pk=response.json()["id"]))
    deadline = time.monotonic() + 60
    while not received and time.monotonic() < deadline:
        time.sleep(0.2)

    assert job.status == Job.Status.SUCCESS
    (request,) = received
    signature = request["headers"]["X-FaceSite-Signature"]
    assert webhooks.verify(request["body"], signature, SECRET)
    assert not webhooks.verify(request["body"], signature, "another secret")
    payload = json.loads(request["body"])
    assert (payload["id"], payload["status"]) == (job.pk, "SUCCESS")
    assert NAME in [
        face["person"]["name"] for face in payload["faces"] if face["person"]
    ]
    delivery = WebhookDelivery.objects.get()
    for _ in range(50):  # the worker records the answer just after sending
        if delivery.status != "PENDING":
            break
        time.sleep(0.1)
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        "DELIVERED",
        1,
        204,
    )
