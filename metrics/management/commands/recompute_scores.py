from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.rollups import recompute_survey
from surveys.models import Survey


class Command(BaseCommand):
    help = "Rebuild score rollups from the raw answers and report any drift corrected."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?", help="Only this survey (default: all).")

    def handle(self, *args: Any, **options: Any) -> None:
        surveys = Survey.objects.order_by("pk")
        if options["slug"]:
            surveys = surveys.filter(slug=options["slug"])
            if not surveys.exists():
                raise CommandError(f"No survey with slug {options['slug']!r}.")
        total = surveys.count()
        corrected = 0
        for number, survey in enumerate(surveys, start=1):
            drift = recompute_survey(
                survey=survey, progress=lambda line: self.stdout.write(f"  {line}")
            )
            corrected += drift.cells
            verdict = (
                f"corrected {drift.cells} cells ({drift.answers} answers off)"
                if drift
                else "no drift"
            )
            self.stdout.write(f"[{number}/{total}] {survey.name}: {verdict}")
        self.stdout.write(
            f"Recomputed {total} surveys: {corrected} drifted cells corrected."
            if corrected
            else f"Recomputed {total} surveys: no drift."
        )
