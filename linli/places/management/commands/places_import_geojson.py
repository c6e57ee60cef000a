"""manage.py places_import_geojson FILE [--dry-run] [--as USERNAME] — create/update regions from GeoJSON."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from linli.core.errors import DomainError
from linli.places import services


class Command(BaseCommand):
    help = "导入行政区划/网格边界（GeoJSON FeatureCollection，按 properties.code 匹配）"

    def add_arguments(self, parser):
        parser.add_argument("file", help="GeoJSON FeatureCollection file ('-' for stdin)")
        parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
        parser.add_argument("--as", dest="username", help="act (and be audited) as this account; default: system")

    def handle(self, *args, file: str, dry_run: bool, username: str | None, **opts):
        actor = services.SYSTEM
        if username:
            actor = get_user_model().objects.filter(username=username, is_active=True).first()
            if actor is None:
                raise CommandError(f"no active account {username!r}")
        try:
            if file == "-":
                import sys

                data = json.load(sys.stdin)
            else:
                with open(file, encoding="utf-8") as fh:
                    data = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        try:
            report = services.boundaries_import(actor=actor, feature_collection=data, dry_run=dry_run)
        except DomainError as exc:
            self.stdout.write(json.dumps(exc.as_dict(), ensure_ascii=False, indent=2))
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
        if report["errors"]:
            raise CommandError(f"{len(report['errors'])} feature(s) have errors")
