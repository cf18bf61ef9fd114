from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics import sending
from surveys.models import Survey


def summary(count: int, skipped: Counter[str], *, dry_run: bool) -> str:
    return (
        f"{'would send' if dry_run else 'sent'} {count}; skipped: "
        f"{skipped['surveyed_recently']} surveyed recently, {skipped['opted_out']} opted out, "
        f"{skipped['without_email']} without email, {skipped['bouncing']} bouncing"
    )


class Command(BaseCommand):
    help = (
        "Email a live survey to customers (all, a segment, or those named by reference), "
        "skipping those surveyed recently, opted out, without email or bouncing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--survey", required=True, help="The survey's slug.")
        parser.add_argument("--segment", default="")
        parser.add_argument(
            "--customer-ref", action="extend", nargs="+", default=[], dest="refs", metavar="REF"
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what would happen.")

    def handle(self, *args: Any, **options: Any) -> None:
        survey = Survey.objects.filter(slug=options["survey"]).first()
        if survey is None:
            raise CommandError(f"No survey with slug {options['survey']!r}.")
        if not survey.is_live:
            raise CommandError(f"{survey.name!r} is {survey.status}: only a live survey is sent.")
        customers = sending.customers_for(segment=options["segment"], refs=options["refs"])
        if options["refs"]:
            found = set(customers.values_list("ref", flat=True))
            for ref in sorted(set(options["refs"]) - found):
                self.stdout.write(f"No customer with reference {ref!r}.")
        if options["dry_run"]:
            plan = sending.preview(survey=survey, customers=customers)
            self.stdout.write(summary(len(plan.customer_ids), plan.skipped, dry_run=True))
            return
        sent = sending.send_survey(survey=survey, customers=customers, segment=options["segment"])
        self.stdout.write(summary(len(sent.invitations), sent.skipped, dry_run=False))
