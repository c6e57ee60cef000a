"""``manage.py access_broker_passwd --out /etc/mosquitto/linli.passwd``: add the gate controllers to the
broker's password file (A3 MQTT RPC). Each gate logs in with its code as username and its device
token as password (stored only as Mosquitto's PBKDF2 hash). Run it after ``iot_broker_passwd`` (which
writes devices and service accounts): lines of other users are kept, gate lines replaced, inactive
gates left out; then reload the broker (SIGHUP)."""

from __future__ import annotations

import os
import tempfile

from django.core.management.base import BaseCommand

from linli.access.models import Gate


class Command(BaseCommand):
    help = "Merge active gates (code:hash) into the Mosquitto password file"

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True)

    def handle(self, *args, **opts):
        path = opts["out"]
        gates = dict(Gate.objects.filter(is_active=True).exclude(mqtt_password_hash="").order_by("id").values_list("code", "mqtt_password_hash"))
        all_codes = set(Gate.objects.values_list("code", flat=True))
        kept = []
        if os.path.exists(path):
            with open(path) as f:
                kept = [line.rstrip("\n") for line in f if line.strip() and line.split(":", 1)[0] not in all_codes]
        lines = kept + [f"{code}:{h}" for code, h in gates.items() if "/" not in code and "+" not in code and "#" not in code]
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)))
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
        self.stdout.write(f"{len(gates)} gates written to {path} ({len(kept)} other entries kept)")
