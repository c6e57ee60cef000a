"""Write Mosquitto's password file from the device registry (D1/D2):
``manage.py iot_broker_passwd --out /etc/mosquitto/linli.passwd [--service linli-ingest:PASSWORD]
[--tokens-out /etc/mosquitto/linli.tokens]``.
The tokens file (``<sha256 of access token> <device username>`` per line) is read by the ThingsBoard-topic
plugin (deploy/mosquitto/plugin/) so devices can log in with their access token as username.
Inactive devices are left out, so deactivating a device locks it out at the next broker reload (SIGHUP)."""

from __future__ import annotations

import os
import tempfile

from django.core.management.base import BaseCommand, CommandError

from linli.iot.models import Device, DeviceStatus
from linli.iot.services import mosquitto_hash


class Command(BaseCommand):
    help = "Write the Mosquitto password file for all active devices (+ service accounts)"

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True)
        parser.add_argument("--tokens-out", help="also write the access-token file of the ThingsBoard-topic plugin")
        parser.add_argument("--service", action="append", default=[], help="username:password of a service account (repeatable)")

    def handle(self, *args, **opts):
        lines = []
        for spec in opts["service"]:
            user, sep, password = spec.partition(":")
            if not sep or not user or not password:
                raise CommandError("--service must be username:password")
            lines.append(f"{user}:{mosquitto_hash(password)}")
        active = Device.objects.exclude(status=DeviceStatus.INACTIVE).order_by("id")
        rows = active.values_list("mqtt_username", "mqtt_password_hash")
        lines += [f"{u}:{h}" for u, h in rows.iterator(chunk_size=5000)]
        self._write(opts["out"], lines)
        if opts["tokens_out"]:
            tokens = [f"{h} {u}" for h, u in active.values_list("token_hash", "mqtt_username").iterator(chunk_size=5000)]
            self._write(opts["tokens_out"], tokens)

    def _write(self, path: str, lines: list[str]) -> None:
        """Replace ``path`` atomically (the broker may reload at any moment)."""
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)))
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
        self.stdout.write(f"{len(lines)} entries written to {path}")
