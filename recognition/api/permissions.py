"""Scopes: `recognize` to send photos and read results, `manage` to change people.

Staff users signed in to the site have every scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission

from ..models import ApiKey

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

RECOGNIZE = ApiKey.Scope.RECOGNIZE
MANAGE = ApiKey.Scope.MANAGE


def has_scope(request: Request, scope: str) -> bool:
    if isinstance(request.auth, ApiKey):
        return request.auth.has_scope(scope)
    user = request.user
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def refusal(request: Request, scope: str) -> str:
    if isinstance(request.auth, ApiKey):
        return f"This API key lacks the `{scope}` scope."
    return "Only staff accounts (or API keys) may use the API."


class CanRecognize(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        self.message = refusal(request, RECOGNIZE)
        return has_scope(request, RECOGNIZE)


class CanManagePeople(BasePermission):
    """Reading people takes either scope; changing them takes `manage`."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        self.message = refusal(request, MANAGE)
        if request.method in SAFE_METHODS:
            return has_scope(request, RECOGNIZE) or has_scope(request, MANAGE)
        return has_scope(request, MANAGE)
