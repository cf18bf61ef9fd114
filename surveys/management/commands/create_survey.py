from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.models import Language, Survey
from surveys.services import create_survey
from surveys.survey_templates import TEMPLATES


class Command(BaseCommand):
    help = "Create a draft survey from a template; prints its public path."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--template", required=True, choices=list(TEMPLATES))
        parser.add_argument("--name", required=True)
        parser.add_argument("--company", required=True)
        parser.add_argument("--language", choices=Language.values, default=Language.EN)
        parser.add_argument("--live", action="store_true", help="Open it for answers at once.")

    def handle(self, *args: Any, **options: Any) -> None:
        survey = Survey(
            name=options["name"],
            company=options["company"],
            language=options["language"],
            status=Survey.Status.LIVE if options["live"] else Survey.Status.DRAFT,
        )
        try:
            survey.full_clean(exclude=["kind"])
        except ValidationError as exc:
            raise CommandError(
                "; ".join(
                    f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()
                )
            ) from None
        create_survey(survey=survey, template=options["template"])
        self.stdout.write(f"Created {survey.get_status_display().lower()} survey {survey.name!r}.")
        self.stdout.write(survey.get_absolute_url())
