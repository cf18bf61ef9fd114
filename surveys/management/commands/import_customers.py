from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.imports import ImportRefused, import_customers


class Command(BaseCommand):
    help = (
        "Import customers from a CSV file (columns ref,email,name,segment,language; "
        "optional phone,customer_since,customer_until), updating those whose ref exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = options["file"].read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error.strerror}") from None
        try:
            report = import_customers(data=data)
        except ImportRefused as refused:
            raise CommandError(refused.message) from None
        for problem in report.problems:
            column = f", column {problem.column}" if problem.column else ""
            self.stdout.write(f"line {problem.line}{column}: {problem.reason}")
        self.stdout.write(report.summary)
