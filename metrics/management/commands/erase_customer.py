from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.privacy import MAIL_FOLDER, erase_customer
from surveys.models import Customer


class Command(BaseCommand):
    help = (
        "Erase a customer's personal data everywhere it is stored (see metrics/privacy.py); "
        "their scores stay. Prints what changed per table."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--email", help="Every customer with this email address.")
        which.add_argument("--ref", help="The customer with this reference.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["email"] is not None:
            email = options["email"].strip()
            customers = Customer.objects.filter(email__iexact=email) if email else None
            missing = f"No customer has the email address {email!r}; nothing was changed."
        else:
            ref = options["ref"].strip()
            customers = Customer.objects.filter(ref=ref) if ref else None
            missing = f"No customer has the reference {ref!r}; nothing was changed."
        found = list(customers.order_by("pk")) if customers is not None else []
        if not found:
            raise CommandError(missing)
        changed: Counter[str] = Counter()
        for customer in found:
            changed.update(erase_customer(customer=customer))
        messages = changed.pop(MAIL_FOLDER, 0)
        for table, count in changed.items():
            self.stdout.write(f"{table}: {count}")
        self.stdout.write(f"{MAIL_FOLDER}: {messages} messages removed")
        tables = sum(1 for count in changed.values() if count)
        self.stdout.write(
            f"erased {len(found)} customer{'s' if len(found) != 1 else ''}: "
            f"{sum(changed.values())} rows changed in {tables} tables, "
            f"{messages} messages removed from the mail folder"
        )
