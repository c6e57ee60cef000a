"""Demo and scale data: a believable district around Jinan (济南市 › 历下区 / 市中区).

``manage.py demo`` builds the administrative tree (city › districts › streets › communities › grids,
official-style codes, polygons that tile exactly), organisations, facilities, estates › buildings ›
units › houses (GD 6.1.1 attributes), persons with valid GB 11643 test ID numbers, households,
residencies and special-group tags, roles and the demo staff and resident accounts.

By design this bypasses the domain services: it writes straight to the tables with bulk_create in
batches (a million persons in minutes), inside one transaction, and records ONE audit entry
"demo.load" with the counts instead of one per row. Personal data still goes through the
encrypted fields and blind indexes exactly as the services store it. Deterministic for a seed.
"""

from .accounts import DEMO_PASSWORD, format_logins, logins
from .builder import ANCHOR, Builder


def has_data() -> bool:
    from linli.places.models import Region

    return Region.objects.exists()


def build(*, persons: int = 8000, seed: int = 2026, log=print):
    """Build the demo into an empty database; returns Stats(counts, timings)."""
    return Builder(persons=persons, seed=seed, log=log).run()


__all__ = ["ANCHOR", "DEMO_PASSWORD", "build", "format_logins", "has_data", "logins"]
