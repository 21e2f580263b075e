"""The audit log of enrolment changes: who created, enrolled, renamed, merged,
removed or forgot whom, and when. Never biometric data: no encodings, no photos."""

from __future__ import annotations

import getpass
import logging

from django.contrib.auth.models import AnonymousUser

from .models import ApiKey, AuditEntry

logger = logging.getLogger(__name__)

Action = AuditEntry.Action


def record(
    action: str, actor: str, person_id: int | None, **details: object
) -> AuditEntry:
    """Write one audit row. `details`: counts, ids and names (JSON values)."""
    entry = AuditEntry.objects.create(
        action=action,
        actor=actor[:200],
        person_id_value=person_id,
        details=details,
    )
    logger.info("Audit: %s %s person %s", actor, action, person_id)
    return entry


def user_actor(user: object) -> str:
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return "anonymous"
    return f"user:{user.get_username()}"


def request_actor(request: object) -> str:
    """Who is behind a request: its API key (and the key's user), else its user."""
    key = getattr(request, "auth", None)
    if isinstance(key, ApiKey):
        return f"api-key:{key.prefix} ({key.name})"
    return user_actor(getattr(request, "user", None))


def command_actor(command: str) -> str:
    """A management command, with the operating-system account that ran it."""
    try:
        account = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (containers): still audit
        account = "unknown"
    return f"command:{command} ({account})"
