from django.core.management.base import BaseCommand, CommandError

from linli.audit.selectors import verify_chain


class Command(BaseCommand):
    help = "Verify the audit hash chain (O3); exit 1 and name the first broken link if it does not hold."

    def handle(self, *args, **options):
        report = verify_chain()
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"audit chain OK: {report.checked} entries verified"))
            return
        raise CommandError(
            f"audit chain BROKEN at seq {report.first_broken_seq}: {report.reason} ({report.checked} entries verified before it)"
        )
