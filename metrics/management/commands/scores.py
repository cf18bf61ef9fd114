import json
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.dashboard import headline_json
from surveys.models import Survey


class Command(BaseCommand):
    help = "Print a survey's headline score over all its answers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--json", action="store_true", help="Print it as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        survey = Survey.objects.prefetch_related("questions").filter(slug=options["slug"]).first()
        if survey is None:
            raise CommandError(f"No survey with slug {options['slug']!r}.")
        data = headline_json(survey, None)
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        # The score leaves these out, so the line that gives it says so.
        unprocessed = cast(dict[str, Any], data["waiting"])
        pending = ""
        if unprocessed["count"]:
            pending = (
                f"; {unprocessed['count']} waiting to be processed since {unprocessed['since']}"
            )
        if data["value"] is None:
            none = "no answers processed yet" if pending else "no answers yet"
            self.stdout.write(f"{survey.name}: {none}{pending}")
            return
        margin = "" if data["margin"] is None else f" ± {data['margin']}"
        band = f", {data['band']}" if data["band"] else ""
        small = ", small sample" if data["small_sample"] else ""
        self.stdout.write(
            f"{survey.name} ({survey.kind}): {data['value']}{margin} (n={data['n']}{band}{small})"
            f"{pending}"
        )
