"""Webhooks: signed POSTs of finished jobs to a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.exceptions import Retry

from recognition import tasks, webhooks
from recognition.models import Job, WebhookDelivery

from .conftest import finish, photo

pytestmark = pytest.mark.django_db

SECRET = "test-webhook-secret"


@dataclass
class Receiver:
    """A local HTTP server that records each POST and answers `status`."""

    server: ThreadingHTTPServer
    status: int = 200
    received: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers["Content-Length"])
            body = self.rfile.read(length)
            state["r"].received.append({"headers": dict(self.headers), "body": body})
            self.send_response(state["r"].status)
            self.end_headers()
            self.wfile.write(b"thanks " * 400)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["r"]
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.FACESITE_WEBHOOK_SECRET = SECRET
    settings.FACESITE_WEBHOOK_TIMEOUT = 5


def finished_job(api, jpeg: bytes, callback_url: str) -> Job:
    response = api.post(
        "/api/v1/recognitions", {"image": photo(jpeg), "callback_url": callback_url}
    )
    return finish(Job.objects.get(pk=response.json()["id"]))


def test_signature_round_trip():
    signature = webhooks.sign(b'{"id":1}', SECRET)

    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert webhooks.verify(b'{"id":1}', signature, SECRET)
    assert not webhooks.verify(b'{"id":2}', signature, SECRET)
    assert not webhooks.verify(b'{"id":1}', signature, "other secret")


def test_a_finished_job_with_a_callback_gets_a_delivery(api, eileen, astronaut_jpeg):
    job = finished_job(api, astronaut_jpeg, "https://example.org/hook")

    delivery = WebhookDelivery.objects.get()
    assert (delivery.job, delivery.url, delivery.status) == (
        job,
        "https://example.org/hook",
        "PENDING",
    )
    assert delivery.event == "recognition.finished"


def test_a_failed_job_gets_one_too(api):
    job = Job.objects.create(filename="x.jpg", callback_url="https://example.org/h")
    job.claim("test")
    Job.objects.filter(pk=job.pk).update(image="uploads/missing.jpg")
    job.refresh_from_db()

    from recognition import processing

    processing.process(job)

    assert Job.objects.get().status == "FAILURE"
    assert WebhookDelivery.objects.get().job == job


def test_no_callback_no_delivery(api, astronaut_face_jpeg):
    api.post("/api/v1/recognitions", {"image": photo(astronaut_face_jpeg)})
    finish(Job.objects.get())

    assert not WebhookDelivery.objects.exists()


def test_a_dead_job_gets_a_delivery():
    job = Job.objects.create(filename="x.jpg", callback_url="https://example.org/h")

    tasks.process_job.on_failure(RuntimeError("boom"), "tid", (job.pk,), {}, None)

    assert Job.objects.get().status == "DEAD"
    assert WebhookDelivery.objects.get().job == job


def test_delivery_posts_the_signed_job(api, eileen, astronaut_jpeg, receiver, settings):
    settings.FACESITE_PUBLIC_URL = "https://faces.example.org"
    job = finished_job(api, astronaut_jpeg, receiver.url)
    delivery = WebhookDelivery.objects.get()

    assert webhooks.deliver(delivery.pk) is None

    (request,) = receiver.received
    headers, body = request["headers"], request["body"]
    assert webhooks.verify(body, headers["X-FaceSite-Signature"], SECRET)
    assert headers["X-FaceSite-Event"] == "recognition.finished"
    assert headers["X-FaceSite-Delivery"] == str(delivery.pk)
    payload = json.loads(body)
    assert (payload["id"], payload["status"]) == (job.pk, "SUCCESS")
    assert "Eileen Collins" in [
        f["person"]["name"] for f in payload["faces"] if f["person"]
    ]
    assert payload["links"]["self"] == (
        f"https://faces.example.org/api/v1/recognitions/{job.pk}"
    )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        "DELIVERED",
        1,
        200,
    )
    assert delivery.response_excerpt.startswith("thanks")
    assert len(delivery.response_excerpt) == webhooks.EXCERPT_BYTES
    assert delivery.delivered_at is not None


def test_delivering_twice_sends_once(api, astronaut_face_jpeg, receiver):
    finished_job(api, astronaut_face_jpeg, receiver.url)
    delivery = WebhookDelivery.objects.get()

    tasks.deliver_webhook(delivery.pk)
    tasks.deliver_webhook(delivery.pk)

    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.get().attempts == 1


def test_a_server_error_is_retried_then_given_up(
    api, astronaut_face_jpeg, receiver, settings
):
    settings.FACESITE_WEBHOOK_MAX_ATTEMPTS = 3
    receiver.status = 503
    finished_job(api, astronaut_face_jpeg, receiver.url)
    delivery = WebhookDelivery.objects.get()

    countdown = webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert 5 <= countdown <= 15
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        "PENDING",
        1,
        503,
    )
    with pytest.raises(Retry):  # the task asks Celery to run it again later
        tasks.deliver_webhook(delivery.pk)
    assert webhooks.deliver(delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("FAILED", 3)
    assert len(receiver.received) == 3
    assert "503" in delivery.error


def test_a_client_error_is_not_retried(api, astronaut_face_jpeg, receiver):
    receiver.status = 404
    finished_job(api, astronaut_face_jpeg, receiver.url)

    assert webhooks.deliver(WebhookDelivery.objects.get().pk) is None

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("FAILED", 1)


def test_an_unreachable_receiver_is_retried(api, astronaut_face_jpeg):
    finished_job(api, astronaut_face_jpeg, "http://127.0.0.1:1/hook")

    countdown = webhooks.deliver(WebhookDelivery.objects.get().pk)

    delivery = WebhookDelivery.objects.get()
    assert countdown is not None
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        "PENDING",
        1,
        None,
    )
    assert delivery.error


def test_without_a_secret_nothing_is_sent(api, astronaut_face_jpeg, receiver, settings):
    finished_job(api, astronaut_face_jpeg, receiver.url)
    settings.FACESITE_WEBHOOK_SECRET = ""

    assert webhooks.deliver(WebhookDelivery.objects.get().pk) is None

    assert receiver.received == []
    assert WebhookDelivery.objects.get().status == "FAILED"


def test_backoff_grows_and_is_capped():
    assert 7.5 <= webhooks.backoff(1) <= 12.5
    assert 15 <= webhooks.backoff(2) <= 25
    assert webhooks.backoff(30) <= webhooks.BACKOFF_MAX * 1.25


def test_queueing_with_the_broker_down_keeps_the_row(
    api, astronaut_face_jpeg, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        finished_job(api, astronaut_face_jpeg, "https://example.org/hook")

    assert WebhookDelivery.objects.get().status == "PENDING"
