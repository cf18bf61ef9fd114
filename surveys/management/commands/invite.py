from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from surveys.models import Survey
from surveys.services import NotInvited, customer_for, invite


class Command(BaseCommand):
    help = "Invite a customer to a survey; prints the personal invitation path."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--survey", required=True, help="The survey's slug.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--customer-ref", default="")
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            validate_email(options["email"])
        except ValidationError:
            raise CommandError(f"{options['email']!r} is not an email address.") from None
        survey = Survey.objects.filter(slug=options["survey"]).first()
        if survey is None:
            raise CommandError(f"No survey with slug {options['survey']!r}.")
        try:
            with transaction.atomic():
                customer = customer_for(
                    email=options["email"],
                    customer_ref=options["customer_ref"],
                    name=options["name"],
                )
                invitation = invite(survey=survey, customer=customer)
        except NotInvited as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Invited {invitation.customer} to {survey.name!r}.")
        self.stdout.write(invitation.get_absolute_url())
