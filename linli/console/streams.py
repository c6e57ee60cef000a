"""Server-sent-event views of the console (D4 alarms, A3/A4 access, K2/K4 parking) over linli.core.live.

``live_stream_response(request, channels, perms, kinds)`` is the one way a console page subscribes: 403
without any of ``perms`` anywhere, 204 (the browser's EventSource gives up and the page keeps polling)
when no live backend is configured or this process already serves its maximum of streams, else a stream
of the events on ``channels`` whose region path lies in the viewer's scope for one of ``perms`` (or, for
a kind listed in ``kinds``, for one of that kind's perms). Events carry ids, kinds and a region path
only; the page re-fetches its feed through its normal scoped view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse

from linli.core import live
from linli.core.scoping import path_in_scope
from linli.orgs.perms import check_perm_anywhere, covers_any, scope_paths_any


def _scope(actor: Any, perms: tuple[str, ...]) -> list[str] | None:
    """Region paths where ``actor`` holds one of ``perms`` (None = everywhere); 403 when it holds none."""
    if not any(covers_any(actor, p) for p in perms):
        check_perm_anywhere(actor, perms[0])
    return scope_paths_any(actor, perms)


def event_filter(actor: Any, perms: str | Iterable[str], kinds: Mapping[str, Iterable[str]] | None = None) -> Callable[[dict], bool]:
    """Which events ``actor`` may receive: the event's region must lie where the actor holds one of the
    perms of its kind (``kinds``) or, for other kinds, one of ``perms``. Scopes are read once, here — never
    per event. 403 when the actor holds none of ``perms``."""
    perms = (perms,) if isinstance(perms, str) else tuple(perms)
    paths = _scope(actor, perms)
    by_kind = {kind: scope_paths_any(actor, kind_perms) for kind, kind_perms in (kinds or {}).items()}

    def allowed(event: dict) -> bool:
        region, kind = event.get("region"), event.get("kind")
        scope = by_kind.get(kind, paths) if isinstance(kind, str) else paths
        return isinstance(region, str) and path_in_scope(region, scope)

    return allowed


def live_stream_response(request, channels: Iterable[str], perms: str | Iterable[str],
                         kinds: Mapping[str, Iterable[str]] | None = None) -> HttpResponse:
    allowed = event_filter(request.user, perms, kinds)
    slot = live.try_acquire()
    if slot is None:
        return HttpResponse(status=204)
    response = StreamingHttpResponse(live.stream(list(channels), allowed=allowed, slot=slot), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def live_url(name: str, *args: Any) -> str:
    """The stream URL a page hands to static/linli/live.js, or "" when live updates are off (the page only polls)."""
    from django.urls import reverse

    return reverse(name, args=args) if live.enabled() else ""
