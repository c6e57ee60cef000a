"""API authentication: Bearer tokens (hashed at rest) and the console session (with CSRF)."""

from __future__ import annotations

from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from .models import ApiToken, hash_token


class TokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request, token: str):
        if not token or len(token) > 200:
            return None
        row = ApiToken.objects.select_related("account").filter(key_hash=hash_token(token)).first()
        if row is None or not row.is_valid or not row.account.is_active:
            return None
        now = timezone.now()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.account
        request.api_token = row
        return row.account


class StaffSession(SessionAuth):
    """Session cookie auth for calls made from the console (CSRF enforced by ninja)."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


api_auth = [TokenAuth(), StaffSession()]
