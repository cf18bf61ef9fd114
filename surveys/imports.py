"""Customers from a CSV file: checked row by row first, then upserted by `ref` in bulk.

One service for the command and the admin's upload. A refused row changes nothing and
is reported with its line, column and reason; the good rows are imported.
"""

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils.translation import gettext as _

from surveys.models import Customer, Language
from surveys.text import CONTROL_CHARACTERS

REQUIRED = ("ref", "email", "name", "segment", "language")
OPTIONAL = ("phone", "customer_since", "customer_until")
# Rows written per transaction, with a progress report after each.
CHUNK = 5000
# The advisory lock customer upserts take turns on ("CUSTOMER").
UPSERT_LOCK = 0x435553544F4D4552
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")


class ImportRefused(Exception):
    """The file as a whole cannot be read: nothing was imported."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass
class Problem:
    line: int
    column: str
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return len({problem.line for problem in self.problems})

    @property
    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, refused {self.refused}"


Progress = Callable[[int, int], None]


def import_customers(*, data: bytes, progress: Progress | None = None) -> ImportReport:
    """Import the customers of a CSV file (UTF-8 with or without BOM, `;` or `,`)."""
    header, rows = _read(data)
    report = ImportReport()
    good: list[tuple[int, dict[str, Any]]] = []
    for line, cells in rows:
        values, problems = _check(header, cells, line)
        report.problems.extend(problems)
        if not problems:
            good.append((line, values))
    good = _without_repeated_refs(good, rows, header, report)
    report.problems.sort(key=lambda problem: problem.line)
    done = report.refused
    for start in range(0, len(good), CHUNK):
        chunk = [values for _line, values in good[start : start + CHUNK]]
        created, updated = upsert_customers(chunk)
        report.created += created
        report.updated += updated
        done += len(chunk)
        if progress:
            progress(done, len(rows))
    if progress and not good:
        progress(done, len(rows))
    return report


def _read(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused(_("The file is not UTF-8 text.")) from None
    first_line = text.split("\n", 1)[0]
    separator = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        return _parse(reader)
    except csv.Error as error:
        raise ImportRefused(
            _("Line %(line)d cannot be read as CSV: %(error)s.")
            % {"line": reader.line_num, "error": error}
        ) from None


def _parse(reader: Any) -> tuple[list[str], list[tuple[int, list[str]]]]:
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in REQUIRED + OPTIONAL]
    repeated = sorted(name for name, count in Counter(header).items() if count > 1)
    if missing or unknown or repeated:
        found = [
            (_("Missing columns: %s.") % ", ".join(missing)) if missing else "",
            (_("Unknown columns: %s.") % ", ".join(unknown)) if unknown else "",
            (_("Repeated columns: %s.") % ", ".join(repeated)) if repeated else "",
        ]
        expected = _("The header needs %(required)s, and may have %(optional)s.") % {
            "required": ", ".join(REQUIRED),
            "optional": ", ".join(OPTIONAL),
        }
        raise ImportRefused(" ".join([*filter(None, found), expected]))
    rows = [(reader.line_num, cells) for cells in _rows(reader)]
    return header, rows


# What no database text column or spreadsheet cell can hold (NUL, other control
# characters but tab and line breaks, U+FFFE and U+FFFF).


def _rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield cells


def _check(header: Sequence[str], cells: list[str], line: int) -> tuple[dict, list[Problem]]:
    if len(cells) != len(header):
        reason = _("%(cells)d cells where the header has %(columns)d.") % {
            "cells": len(cells),
            "columns": len(header),
        }
        return {}, [Problem(line, "", reason)]
    values: dict[str, Any] = {}
    problems = []
    for name, raw in zip(header, cells, strict=True):
        if CONTROL_CHARACTERS.search(raw):
            problems.append(Problem(line, name, _("Contains a control character.")))
            continue
        try:
            values[name] = CLEAN[name](raw.strip())
        except ValueError as error:
            problems.append(Problem(line, name, str(error)))
    since, until = values.get("customer_since"), values.get("customer_until")
    if since and until and until < since:
        problems.append(Problem(line, "customer_until", _("Before customer_since.")))
    return values, problems


def _without_repeated_refs(
    good: list[tuple[int, dict[str, Any]]],
    rows: list[tuple[int, list[str]]],
    header: list[str],
    report: ImportReport,
) -> list[tuple[int, dict[str, Any]]]:
    """A reference twice in the file: neither row is taken, since either may be wrong."""
    position = header.index("ref")
    lines: dict[str, list[int]] = {}
    for line, cells in rows:
        if len(cells) == len(header):
            lines.setdefault(cells[position].strip(), []).append(line)
    kept = []
    for line, values in good:
        repeats = lines[values["ref"]]
        if len(repeats) > 1:
            reason = _("The reference %(ref)s is on lines %(lines)s.") % {
                "ref": values["ref"],
                "lines": ", ".join(map(str, repeats)),
            }
            report.problems.append(Problem(line, "ref", reason))
        else:
            kept.append((line, values))
    return kept


@transaction.atomic
def upsert_customers(chunk: list[dict[str, Any]]) -> tuple[int, int]:
    """Create or update customers by `ref` (one row each, every ref given once): a row
    changes only the columns it gives. Returns how many were created and updated."""
    columns = sorted({name for values in chunk for name in values} - {"ref"})
    if connection.vendor == "postgresql":
        # Upserts take turns: two adding the same new ref at once would both insert it.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [UPSERT_LOCK])
    existing = {c.ref: c for c in Customer.objects.filter(ref__in=[v["ref"] for v in chunk])}
    new, changed = [], []
    for values in chunk:
        customer = existing.get(values["ref"])
        if customer is None:
            new.append(Customer(**values))
            continue
        if "email" in values and values["email"].lower() != customer.email.lower():
            customer.bouncing_since = None  # a corrected address is tried again
        for name, value in values.items():
            setattr(customer, name, value)
        changed.append(customer)
    Customer.objects.bulk_create(new, batch_size=1000)
    # An upsert on the primary key: bulk_update's CASE per column is many times slower.
    Customer.objects.bulk_create(
        changed,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=[*columns, "bouncing_since"],
    )
    return len(new), len(changed)


def _text(limit: int, *, required: bool = False) -> Callable[[str], str]:
    def clean(value: str) -> str:
        if required and not value:
            raise ValueError(_("Empty."))
        if len(value) > limit:
            raise ValueError(_("Longer than %(limit)d characters.") % {"limit": limit})
        return value

    return clean


def _email(value: str) -> str:
    _text(254)(value)
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise ValueError(_("Not an email address: %(value)s") % {"value": value}) from None
    return value


def _language(value: str) -> str:
    value = value.lower()
    if value and value not in Language.values:
        raise ValueError(
            _("Unknown language %(value)s: use one of %(languages)s, or leave it empty.")
            % {"value": value, "languages": ", ".join(Language.values)}
        )
    return value


def _date(value: str) -> date | None:
    if not value:
        return None
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ValueError(_("Not a date: %(value)s (write YYYY-MM-DD).") % {"value": value})


CLEAN: dict[str, Callable[[str], Any]] = {
    "ref": _text(100, required=True),
    "email": _email,
    "name": _text(200),
    "segment": _text(100),
    "language": _language,
    "phone": _text(40),
    "customer_since": _date,
    "customer_until": _date,
}
