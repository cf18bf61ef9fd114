import json
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics import kpis
from metrics.periods import Period


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
        period = Period(start=start, end=end - timedelta(days=1))
        (row,) = kpis.period_kpis([period], segment=segment)
        data = kpis.as_json(row, kpis.nps_groups(period, segment=segment), segment)
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        counts = data["counts"]
        self.stdout.write(
            f"{start} to {end} (not included){f', segment {segment}' if segment else ''}"
        )
        self.stdout.write(", ".join(f"{name} {value}" for name, value in counts.items()))
        for name in kpis.retention.NAMES:
            self.stdout.write(f"{name}: {'-' if data[name] is None else data[name]}")
