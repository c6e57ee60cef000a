"""Builders for iot tests."""

from __future__ import annotations

import itertools

from linli.iot import services
from linli.iot.ingest import DIRECTORY, InMessage, ingest_batch
from linli.iot.models import Device, DeviceType
from tests.factories import account

_n = itertools.count(1)


def admin():
    return account(f"iotadmin{next(_n)}", superuser=True)


def ensure_catalog() -> None:
    """Transactional tests flush the seeded device types; put them back."""
    if not DeviceType.objects.exists():
        from linli.iot.catalog import seed
        from linli.iot.models import Rule

        seed(DeviceType, Rule)


def device(region, type_code: str = "smoke_detector", serial: str | None = None, **kw) -> tuple[Device, services.Credentials]:
    DIRECTORY.clear()
    ensure_catalog()
    return services.device_provision(actor=admin(), serial=serial or f"DEV-{next(_n):05d}", device_type=DeviceType.objects.get(code=type_code),
                                     region=region, **kw)


def send(dev: Device, payload, *, kind: str = "telemetry", channel: str = "http"):
    return ingest_batch([InMessage(dev.mqtt_username, kind, payload)], channel=channel)
