import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics import kpis, retention


def plain(value: kpis.Operand) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def kpi_text(name: str, value: float | Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}%" if name in retention.PERCENTAGES else f"{value:.2f}"


class Command(BaseCommand):
    help = (
        "Print the loyalty KPIs of the days from --start up to (not including) --end, "
        "with the counts they come from and the comparison of the NPS groups."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", type=date.fromisoformat, required=True, help="YYYY-MM-DD")
        parser.add_argument(
            "--end", type=date.fromisoformat, required=True, help="YYYY-MM-DD, not included"
        )
        parser.add_argument("--segment", default="", help="Only the customers of this segment.")
        parser.add_argument("--json", action="store_true", help="Print it as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        start, end, segment = options["start"], options["end"], options["segment"]
        if end <= start:
            raise CommandError("--end must be after --start: the period is [start, end).")
        row, groups = kpis.of_days(start, end, segment=segment)
        if options["json"]:
            self.stdout.write(json.dumps(kpis.as_json(row, groups, segment)))
            return
        scope = f", segment {segment}" if segment else ""
        self.stdout.write(f"{start} up to {end}{scope}:")
        for name in retention.NAMES:
            value = kpi_text(name, row.kpis.value(name))
            self.stdout.write(f"  {value}: {kpis.explain(row, name, plain)}")
        for group in groups:
            small = " (small sample)" if group.small_sample else ""
            bought = group.row.orders.buyers
            self.stdout.write(
                f"  {group.group}: {group.customers} customers{small}, B {bought}, "
                + ", ".join(
                    f"{name} {kpi_text(name, group.row.kpis.value(name))}"
                    for name in kpis.GROUP_KPIS
                )
            )
        self.stdout.write(
            ", ".join(f"{name} {kpi_text(name, row.kpis.value(name))}" for name in retention.NAMES)
        )
