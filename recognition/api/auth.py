"""`Authorization: Api-Key <key>` authentication."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from ..models import ApiKey

if TYPE_CHECKING:
    from rest_framework.request import Request

KEYWORD = "Api-Key"


class ApiKeyAuthentication(BaseAuthentication):
    """The request acts for the key (request.auth) and the key's user, if any."""

    def authenticate(self, request: Request) -> tuple[object, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None  # not ours: the session may authenticate it
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected `Api-Key <key>`."
            )
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        key = ApiKey.find(raw_key)
        user = key.user if key else None
        if key is None or (user is not None and not user.is_active):
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        key.touch()
        return (user or AnonymousUser(), key)

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create one with "
            "`python manage.py create_api_key NAME --scopes recognize,manage`.",
        }
