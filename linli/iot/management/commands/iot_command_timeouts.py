"""``manage.py iot_command_timeouts``: mark device commands past their deadline timed out (D5)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from linli.iot.services import command_timeouts


class Command(BaseCommand):
    help = "Mark pending/delivered device commands past their deadline as timed out"

    def handle(self, *args, **opts):
        self.stdout.write(f"{command_timeouts()} commands timed out")
