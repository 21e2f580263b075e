"""API keys and webhook deliveries in the admin."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from recognition.models import ApiKey, Job, WebhookDelivery

from .conftest import key_client

pytestmark = pytest.mark.django_db


def test_adding_a_key_shows_it_once(admin_client):
    response = admin_client.post(
        reverse("admin:recognition_apikey_add"),
        {"name": "bridge", "scopes": ["recognize"], "active": "on"},
        follow=True,
    )

    key = ApiKey.objects.get()
    shown = re.search(r"The new API key is (\S+)", response.content.decode())
    assert shown, response.content.decode()
    raw_key = shown.group(1)
    assert key.key_hash == ApiKey.digest(raw_key)
    assert key_client(raw_key).get("/api/v1/recognitions").status_code == 200
    page = admin_client.get(reverse("admin:recognition_apikey_change", args=[key.pk]))
    assert raw_key not in page.content.decode()


def test_changing_a_key_keeps_its_secret(admin_client, manage_key):
    key, raw_key = manage_key

    admin_client.post(
        reverse("admin:recognition_apikey_change", args=[key.pk]),
        {"name": "renamed", "scopes": ["recognize"]},
    )

    key.refresh_from_db()
    assert (key.name, key.scope_list, key.active) == ("renamed", ["recognize"], False)
    assert key.key_hash == ApiKey.digest(raw_key)


def test_webhook_deliveries_are_read_only(admin_client):
    job = Job.objects.create(filename="a.jpg")
    delivery = WebhookDelivery.objects.create(
        job=job, url="https://example.org/h", event="recognition.finished"
    )

    listing = admin_client.get(reverse("admin:recognition_webhookdelivery_changelist"))
    detail = admin_client.get(
        reverse("admin:recognition_webhookdelivery_change", args=[delivery.pk])
    )
    add = admin_client.get(reverse("admin:recognition_webhookdelivery_add"))

    assert listing.status_code == 200 and "example.org" in listing.content.decode()
    assert detail.status_code == 200
    assert add.status_code == 403
