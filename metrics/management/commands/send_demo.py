from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from metrics import sending
from metrics.management.commands.seed_demo import DEMO_SURVEYS
from metrics.management.commands.send_survey import summary
from surveys.imports import import_customers
from surveys.models import Survey

CUSTOMERS = Path(__file__).with_name("demo_customers.csv")


class Command(BaseCommand):
    help = "Import a few demo customers and email them the demo survey (make run)."

    def handle(self, *args: Any, **options: Any) -> None:
        data = CUSTOMERS.read_bytes()
        report = import_customers(data=data)
        self.stdout.write(f"Demo customers: {report.summary}")
        survey = Survey.objects.filter(name=DEMO_SURVEYS[0][1], status=Survey.Status.LIVE).first()
        if survey is None:
            self.stdout.write("No live demo survey to send.")
            return
        refs = [line.split(";", 1)[0] for line in data.decode().splitlines()[1:]]
        customers = sending.customers_for(refs=refs)
        sent = sending.send_survey(survey=survey, customers=customers)
        self.stdout.write(
            f"Demo survey emailed: {summary(len(sent.invitations), sent.skipped, dry_run=False)}"
        )
