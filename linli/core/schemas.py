"""Shared API schema pieces: the cursor page and the error body (documented in OpenAPI)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from ninja import Schema

T = TypeVar("T")


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class ErrorOut(Schema):
    code: str
    message: str
    detail: dict[str, Any] = {}


# Use on every route: responses={**ERRORS, 200: ...}
ERRORS: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut}
