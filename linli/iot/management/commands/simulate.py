"""``manage.py simulate --devices N --rate R [--seconds S]``: simulated devices publishing telemetry.

Creates (once) N simulated devices ``SIM-000001…`` in the first grid, then publishes over MQTT
(``--url`` or LINLI_MQTT_URL). Without MQTT it posts through the ingest pipeline directly (``--direct``)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from linli.iot import simulate
from linli.iot.catalog import seed
from linli.iot.ingest import InMessage, ingest_batch
from linli.iot.models import Device, DeviceType, Rule, hash_secret
from linli.iot.services import mosquitto_hash
from linli.places.models import Level, Region

KINDS = ["smoke_detector", "gas_detector", "trash_bin"]


def ensure_devices(n: int) -> list[tuple[str, str]]:
    """(username, type code) of n simulated devices, created in bulk when missing."""
    if not DeviceType.objects.exists():
        seed(DeviceType, Rule)
    grid = Region.objects.filter(level=Level.GRID).order_by("path").first()
    if grid is None:
        raise CommandError("No grid region: load the demo data (make demo) first")
    types = {t.code: t for t in DeviceType.objects.filter(code__in=KINDS)}
    existing = set(Device.objects.filter(serial__startswith="SIM-").values_list("serial", flat=True))
    pw = mosquitto_hash("simulated")
    new = []
    for i in range(1, n + 1):
        serial = f"SIM-{i:06d}"
        if serial not in existing:
            new.append(Device(serial=serial, name=f"模拟设备{i}", device_type=types[KINDS[i % 3]], region=grid, mqtt_username=serial,
                              token_hash=hash_secret(f"sim-token-{serial}"), token_prefix="sim", mqtt_password_hash=pw))
    Device.objects.bulk_create(new, batch_size=2000)
    return [(f"SIM-{i:06d}", KINDS[i % 3]) for i in range(1, n + 1)]


class Command(BaseCommand):
    help = "Simulate N devices publishing telemetry at R messages/s"

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=100)
        parser.add_argument("--rate", type=float, default=100.0, help="messages per second in total (0 = as fast as possible)")
        parser.add_argument("--seconds", type=float, default=10.0)
        parser.add_argument("--url", default=settings.LINLI_MQTT_URL or "mqtt://127.0.0.1:1883")
        parser.add_argument("--direct", action="store_true", help="no broker: call the ingest pipeline in-process")

    def handle(self, *args, **o):
        devs = ensure_devices(o["devices"])
        total = int(o["rate"] * o["seconds"]) if o["rate"] else o["devices"] * 10
        if o["direct"]:
            import random

            rnd = random.Random(1)
            base = int(time.time() * 1000) - total
            msgs = [InMessage(devs[i % len(devs)][0], "telemetry", simulate.payload(devs[i % len(devs)][1], base + i, rnd)) for i in range(total)]
            t0 = time.perf_counter()
            stored = 0
            for i in range(0, total, 2000):
                stored += ingest_batch(msgs[i : i + 2000], channel="sim").stored
            self.stdout.write(str({"messages": total, "stored": stored, "seconds": round(time.perf_counter() - t0, 2)}))
            return
        out = simulate.run(o["url"], [u for u, _ in devs], rate=o["rate"], total=total, kinds=[k for _, k in devs])
        self.stdout.write(str(out))
