"""manage.py places_export_geojson [--level grid] [--parent CODE] [--out FILE] — boundaries as GeoJSON."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from linli.places import selectors, services
from linli.places.models import Level, Region


class Command(BaseCommand):
    help = "导出行政区划/网格边界为 GeoJSON FeatureCollection"

    def add_arguments(self, parser):
        parser.add_argument("--level", choices=Level.values, help="only this level (default: all)")
        parser.add_argument("--parent", help="only the direct children of the region with this code")
        parser.add_argument("--out", help="output file (default: stdout)")

    def handle(self, *args, level: str | None, parent: str | None, out: str | None, **opts):
        parent_id = None
        if parent:
            parent_id = Region.objects.filter(code=parent).values_list("id", flat=True).first()
            if parent_id is None:
                raise CommandError(f"no region with code {parent}")
        data = selectors.boundaries_geojson(actor=services.SYSTEM, parent_id=parent_id, level=level)
        text = json.dumps(data, ensure_ascii=False)
        if out:
            with open(out, "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"{len(data['features'])} features → {out}")
        else:
            self.stdout.write(text)
