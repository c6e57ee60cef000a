"""Per-request context (who, from where) used by the audit trail; contextvars, so thread/async safe."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip: str = ""
    user_agent: str = ""
    channel: str = "system"  # api / console / portal / admin / cli / task / system
    request_id: str = ""


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("linli_request", default=RequestContext())  # noqa: B039 (frozen dataclass)


def current() -> RequestContext:
    return _current.get()


def set_current(ctx: RequestContext) -> contextvars.Token:
    return _current.set(ctx)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)
