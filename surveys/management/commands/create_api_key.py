from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.api_keys import create_api_key
from surveys.models import ApiKey, Survey


class Command(BaseCommand):
    help = (
        "Make a REST API key; prints the key alone on its last line. It is shown this "
        "once: only its hash is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Who or what uses it, e.g. Shop.")
        parser.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated, some of: {', '.join(ApiKey.Scope.values)}.",
        )
        parser.add_argument("--survey", help="The slug of the one survey it may use.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise CommandError("--name must be 1 to 100 printable characters.")
        survey = None
        if options["survey"]:
            survey = Survey.objects.filter(slug=options["survey"]).first()
            if survey is None:
                raise CommandError(f"No survey with slug {options['survey']!r}.")
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        try:
            api_key, key = create_api_key(name=name, scopes=scopes, survey=survey)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        only = f" for survey {survey.slug}" if survey else ""
        self.stdout.write(
            f"Created API key {api_key.name!r} ({', '.join(api_key.scopes)}){only}; "
            "it is shown this once:"
        )
        self.stdout.write(key)
