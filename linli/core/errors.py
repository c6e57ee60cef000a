"""One error shape everywhere: {"code": "...", "message": "...", "detail": {...}} with a 4xx status.

Domain code raises DomainError (or a subclass); API, console and portal render it the same way.
"""

from __future__ import annotations

from typing import Any

from .i18n import Msg


class DomainError(Exception):
    status = 400

    def __init__(
        self,
        code: str,
        message: Msg | str,
        *,
        detail: dict[str, Any] | None = None,
        status: int | None = None,
        **fmt: object,
    ) -> None:
        self.code = code
        self.msg = message if isinstance(message, Msg) else Msg(message, message)
        self.fmt = fmt
        self.detail = detail or {}
        if status is not None:
            self.status = status
        super().__init__(f"{code}: {self.msg.en.format(**fmt) if fmt else self.msg.en}")

    @property
    def message(self) -> str:
        return self.msg.text(**self.fmt)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class NotFound(DomainError):
    status = 404

    def __init__(self, code: str = "not_found", message: Msg | str | None = None, **kw: Any) -> None:
        super().__init__(code, message or Msg("对象不存在或不在您的管辖范围内", "Not found or outside your scope"), **kw)


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    """Input that is well-formed but breaks a domain rule."""

    status = 422


class Throttled(DomainError):
    status = 429


def validation_detail(exc: Any) -> dict[str, Any]:
    """Turn a Django ValidationError into a {field: [messages]} dict."""
    if hasattr(exc, "message_dict"):
        return {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    if hasattr(exc, "messages"):
        return {"__all__": [str(m) for m in exc.messages]}
    return {"__all__": [str(exc)]}
