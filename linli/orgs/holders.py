"""In-process copies of "who holds which role where" answers (O2), shared by every domain that asks
on a hot path: the grid worker a new case goes to (cases), the roles that see alarms and who is told
first about an alarm in a grid (iot).

``HolderCache(setting, default_ttl)`` keeps each answer for ``settings.<setting>`` seconds (0: never
kept). Every copy of every cache is dropped at once when a role, a role assignment or an account is
saved or deleted in this process (one set of signal receivers here, not one per domain); another
process sees the change within its TTL. An answer may carry a wall-clock ``valid_until`` (an
assignment that runs out): it is never served past it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from .models import Account, Role, RoleAssignment

_caches: list[HolderCache] = []


class HolderCache:
    def __init__(self, setting: str, default_ttl: float) -> None:
        self.setting, self.default_ttl = setting, default_ttl
        self._lock = threading.Lock()
        self._data: dict[Hashable, tuple[float, Any, dt.datetime | None]] = {}
        _caches.append(self)

    def ttl(self) -> float:
        return float(getattr(settings, self.setting, self.default_ttl))

    def get(self, key: Hashable, load: Callable[[], tuple[Any, dt.datetime | None]]) -> Any:
        """The kept answer for ``key``, else ``load()`` → (answer, valid until or None), kept. Callers
        must not change what they get (copy it when handing it on)."""
        ttl = self.ttl()
        held = self._data.get(key) if ttl > 0 else None
        if held is not None and time.monotonic() - held[0] <= ttl and (held[2] is None or held[2] > timezone.now()):
            return held[1]
        read_at = time.monotonic()
        value, valid_until = load()
        if ttl > 0:
            with self._lock:
                self._data[key] = (read_at, value, valid_until)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def forget_all(**_: Any) -> None:
    """Drop every kept answer (connected to saves and deletes of roles, assignments and accounts)."""
    for cache in _caches:
        cache.clear()


for _model in (Role, RoleAssignment, Account):
    post_save.connect(forget_all, sender=_model, dispatch_uid=f"orgs.holders.save.{_model.__name__}")
    post_delete.connect(forget_all, sender=_model, dispatch_uid=f"orgs.holders.delete.{_model.__name__}")
