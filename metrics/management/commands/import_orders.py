import io
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.orders import ImportFileError, decode, import_orders


class Command(BaseCommand):
    help = (
        "Import orders from a CSV file with the columns ref,customer_ref,ordered_at,amount,"
        "product (and optionally channel), adding new refs and updating known ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--create-customers",
            action="store_true",
            help="Create a customer for each unknown customer_ref instead of refusing the row.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = decode(options["file"].read_bytes())
            result = import_orders(
                lines=io.StringIO(text, newline=""),
                create_customers=options["create_customers"],
                progress=lambda lines: self.stderr.write(f"  {lines:,} lines read"),
            )
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror}.") from None
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        for refusal in result.refusals:
            self.stdout.write(str(refusal))
        self.stdout.write(result.summary())
