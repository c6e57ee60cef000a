"""manage.py kb_reindex — re-segment all knowledge articles and rebuild the full-text index (L2)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from linli.knowledge.search import reindex_all


class Command(BaseCommand):
    help = "Re-segment all knowledge articles and rebuild the full-text index"

    def handle(self, *args, **options):
        with transaction.atomic():
            n = reindex_all()
        self.stdout.write(f"reindexed {n} articles")
