"""Webhooks: when a job with a callback URL finishes, POST its JSON, signed.

The body is the job as GET /api/v1/recognitions/{id} shows it; the header
`X-FaceSite-Signature: sha256=<hex>` is the HMAC-SHA256 of the body with
FACESITE_WEBHOOK_SECRET. Each delivery is a WebhookDelivery row (visible in the
admin) whose attempts the deliver_webhook task counts; receivers can drop
repeats by `X-FaceSite-Delivery`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import Job, WebhookDelivery

logger = logging.getLogger(__name__)

EVENT = "recognition.finished"
EXCERPT_BYTES = 1000
# Worth another try: the receiver is down, overloaded or asks us to slow down.
RETRY_STATUSES = frozenset({408, 425, 429})
BACKOFF_BASE = 10
BACKOFF_MAX = 600


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    retry: bool


def sign(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, signature: str, secret: str) -> bool:
    """For receivers (and tests): does the header match the body?"""
    return hmac.compare_digest(sign(body, secret), signature)


def schedule(job: Job) -> WebhookDelivery | None:
    """Record a delivery for a finished job that has a callback URL; queue it
    once the transaction commits (immediately outside one)."""
    if not job.callback_url or not job.is_final:
        return None
    delivery = WebhookDelivery.objects.create(
        job=job, url=job.callback_url, event=EVENT
    )
    transaction.on_commit(lambda: send(delivery.pk))
    return delivery


def schedule_for(job_id: int) -> WebhookDelivery | None:
    job = Job.objects.filter(pk=job_id).first()
    return schedule(job) if job is not None else None


def send(delivery_id: int, countdown: float = 0) -> bool:
    """Publish the delivery task; False (the row stays PENDING) when Redis is away."""
    from .tasks import deliver_webhook

    try:
        deliver_webhook.apply_async((delivery_id,), countdown=countdown)
    except Exception as exc:  # noqa: BLE001 - a broker outage must not fail the job
        logger.error("Could not queue webhook delivery %s: %s", delivery_id, exc)
        return False
    return True


def body(job: Job) -> bytes:
    from .api.representation import public_url, recognition_data
    from .api.serializers import RecognitionSerializer

    data = RecognitionSerializer(recognition_data(job, public_url)).data
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def post(delivery: WebhookDelivery, payload: bytes) -> requests.Response:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "FaceSite-Webhook/1",
        "X-FaceSite-Event": delivery.event,
        "X-FaceSite-Delivery": str(delivery.pk),
        "X-FaceSite-Signature": sign(payload, settings.FACESITE_WEBHOOK_SECRET),
    }
    return requests.post(
        delivery.url,
        data=payload,
        headers=headers,
        timeout=settings.FACESITE_WEBHOOK_TIMEOUT,
        allow_redirects=False,
        stream=True,
    )


def excerpt(response: requests.Response) -> str:
    try:
        raw = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
    except Exception:  # noqa: BLE001 - the status code is what matters
        raw = b""
    finally:
        response.close()
    return raw.decode("utf-8", "replace")


def attempt(delivery: WebhookDelivery) -> Attempt:
    """POST once and record the answer on the row."""
    record = {"attempts": F("attempts") + 1, "last_attempt_at": timezone.now()}
    if not settings.FACESITE_WEBHOOK_SECRET:
        record.update(error="FACESITE_WEBHOOK_SECRET is not set.")
        outcome = Attempt(delivered=False, retry=False)
    else:
        outcome = post_and_record(delivery, record)
    if outcome.delivered:
        record.update(status=WebhookDelivery.Status.DELIVERED)
        record.update(delivered_at=record["last_attempt_at"], error="")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**record)
    delivery.refresh_from_db()
    return outcome


def post_and_record(delivery: WebhookDelivery, record: dict) -> Attempt:
    try:
        response = post(delivery, body(delivery.job))
    except requests.RequestException as exc:
        record.update(response_status=None, response_excerpt="", error=str(exc)[:2000])
        return Attempt(delivered=False, retry=True)
    code = response.status_code
    record.update(response_status=code, response_excerpt=excerpt(response))
    if 200 <= code < 300:
        return Attempt(delivered=True, retry=False)
    record.update(error=f"The receiver answered {code}.")
    return Attempt(delivered=False, retry=code >= 500 or code in RETRY_STATUSES)


def backoff(attempts: int) -> float:
    """Seconds before the next try: 10, 20, 40 … up to 10 minutes, with jitter."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.75, 1.25)  # noqa: S311 - not cryptographic


def deliver(delivery_id: int) -> float | None:
    """One attempt at a pending delivery. Returns the countdown of the next try, or
    None when the delivery is done (delivered, refused, out of tries or gone)."""
    delivery = (
        WebhookDelivery.objects.select_related("job")
        .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .first()
    )
    if delivery is None:
        return None
    outcome = attempt(delivery)
    if outcome.delivered:
        return None
    if outcome.retry and delivery.attempts < settings.FACESITE_WEBHOOK_MAX_ATTEMPTS:
        return backoff(delivery.attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED
    )
    logger.warning(
        "Webhook %s to %s failed after %s attempts",
        delivery.pk,
        delivery.url,
        delivery.attempts,
    )
    return None
