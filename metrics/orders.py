"""Orders: the import from CSV (one service for `manage.py import_orders`, the admin's
upload and the demo data) and the facts derived from each customer's order history.

The import reads `ref,customer_ref,ordered_at,amount,product[,channel]` in batches and
upserts each batch by `ref` in bulk (COPY and one INSERT ... ON CONFLICT on PostgreSQL):
a few statements per batch whatever its size. A row that is refused changes nothing and
is reported with its line, column and reason.
"""

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING, NamedTuple

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from metrics.models import Order
from surveys.models import Customer

if TYPE_CHECKING:
    from _csv import _reader

COLUMNS = ("ref", "customer_ref", "ordered_at", "amount", "product")
OPTIONAL_COLUMNS = ("channel",)
BATCH = 10_000
# Ten digits before the decimal mark (Order.amount has 12, two of them decimals), then a
# point or a Dutch comma and at most two decimals.
AMOUNT = re.compile(r"-?\d{1,10}(?:[.,]\d{1,2})?")
# Characters XML cannot hold (NUL among them): refused in text that reaches the database.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_LENGTH = {"ref": 100, "customer_ref": 100, "product": 200, "channel": 100}


class ImportFileError(Exception):
    """The file as a whole cannot be read as orders (no header, columns missing)."""


@dataclass(frozen=True)
class Refusal:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return _("line %(line)d, %(column)s: %(reason)s") % {
            "line": self.line,
            "column": self.column,
            "reason": self.reason,
        }


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return len(self.refusals)

    def summary(self) -> str:
        """The last line of `import_orders`: the interface scripts read."""
        return f"created {self.created}, updated {self.updated}, refused {self.refused}"


class OrderLine(NamedTuple):
    """One valid row of the file."""

    line: int
    ref: str
    customer_ref: str
    ordered_at: datetime
    amount: Decimal
    product: str
    channel: str


# The columns written, in this order, for each order.
Row = tuple[str, int, datetime, Decimal, str, str]
WRITTEN = ("ref", "customer_id", "ordered_at", "amount", "product", "channel")
DERIVED = ("previous_ordered_at", "second_previous_ordered_at", "is_upsell", "previous_upsell_at")


def import_orders(
    *,
    lines: Iterable[str],
    create_customers: bool = False,
    progress: Callable[[int], object] | None = None,
) -> ImportResult:
    """Import the orders of a CSV file given as lines (its header first).

    Each batch commits on its own, and `progress` is told the lines read after each.
    Unknown customer references are refused, or created with `create_customers`.
    """
    reader = csv.reader(lines)
    positions = _header(next(reader, None))
    result = ImportResult()
    customers: dict[str, int] = {}  # references known to exist, with their ids
    seen: set[str] = set()  # refs of this file imported so far
    parsed = _parse(reader, positions)
    while batch := list(islice(parsed, BATCH)):
        with transaction.atomic():
            _import_batch(batch, result, customers, seen, create_customers)
        if progress:
            progress(reader.line_num)
    derive_pending()
    return result


def _header(header: list[str] | None) -> dict[str, int]:
    """The position of each column, by name; the columns may come in any order."""
    if not header:
        raise ImportFileError(_("The file is empty: its first line must name the columns."))
    names = [name.strip().lower().removeprefix("\ufeff") for name in header]
    missing = [name for name in COLUMNS if name not in names]
    if missing:
        raise ImportFileError(
            _("The first line must name the columns %(columns)s; missing: %(missing)s.")
            % {"columns": ",".join(COLUMNS), "missing": ", ".join(missing)}
        )
    return {name: names.index(name) for name in (*COLUMNS, *OPTIONAL_COLUMNS) if name in names}


def _parse(reader: "_reader", positions: dict[str, int]) -> Iterator[OrderLine | Refusal]:
    zone = timezone.get_default_timezone()
    line_num = reader.line_num
    for row in reader:
        # A quoted value may span lines: a row is named by the line it starts on.
        line, line_num = line_num + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        values = {name: row[i].strip() if i < len(row) else "" for name, i in positions.items()}
        problem = _text_problem(values)
        if problem:
            yield Refusal(line, *problem)
            continue
        try:
            ordered_at = datetime.fromisoformat(values["ordered_at"])
        except ValueError:
            yield Refusal(
                line,
                "ordered_at",
                _("not an ISO 8601 time such as 2025-03-01T14:30:00+01:00: %(value)r")
                % {"value": values["ordered_at"]},
            )
            continue
        if ordered_at.tzinfo is None:
            ordered_at = ordered_at.replace(tzinfo=zone)
        if not AMOUNT.fullmatch(values["amount"]):
            yield Refusal(
                line,
                "amount",
                _("not an amount such as 12.50 or 12,50: %(value)r") % {"value": values["amount"]},
            )
            continue
        yield OrderLine(
            line=line,
            ref=values["ref"],
            customer_ref=values["customer_ref"],
            ordered_at=ordered_at,
            amount=Decimal(values["amount"].replace(",", ".")),
            product=values["product"],
            channel=values.get("channel", ""),
        )


def _text_problem(values: dict[str, str]) -> tuple[str, str] | None:
    for name in COLUMNS:
        if not values[name]:
            return name, _("empty")
    for name, limit in MAX_LENGTH.items():
        value = values.get(name, "")
        if len(value) > limit:
            return name, _("longer than %(limit)d characters") % {"limit": limit}
        if CONTROL.search(value):
            return name, _("contains a control character")
    return None


def _import_batch(
    batch: Sequence[OrderLine | Refusal],
    result: ImportResult,
    customers: dict[str, int],
    seen: set[str],
    create_customers: bool,
) -> None:
    wanted = {row.customer_ref for row in batch if isinstance(row, OrderLine)}
    _find_customers(wanted - customers.keys(), customers, create_customers)
    rows: list[Row] = []
    for row in batch:
        if isinstance(row, Refusal):
            result.refusals.append(row)
        elif row.ref in seen:
            result.refusals.append(
                Refusal(
                    row.line,
                    "ref",
                    _("the same ref as an earlier line: %(ref)r") % {"ref": row.ref},
                )
            )
        elif row.customer_ref not in customers:
            result.refusals.append(
                Refusal(
                    row.line,
                    "customer_ref",
                    _("no customer with this reference: %(ref)r") % {"ref": row.customer_ref},
                )
            )
        else:
            seen.add(row.ref)
            customer = customers[row.customer_ref]
            rows.append((row.ref, customer, row.ordered_at, row.amount, row.product, row.channel))
    customer_of = {row[0]: row[1] for row in rows}
    existing = dict(Order.objects.filter(ref__in=customer_of).values_list("ref", "customer_id"))
    # A customer losing an order has their history derived again.
    moved = {old for ref, old in existing.items() if old != customer_of[ref]}
    if moved:
        Order.objects.filter(customer_id__in=moved).update(is_upsell=None)
    write_orders(rows)
    result.updated += len(existing)
    result.created += len(rows) - len(existing)


def _find_customers(refs: set[str], customers: dict[str, int], create: bool) -> None:
    """Add the ids of the customers with these references (created first if asked)."""
    if not refs:
        return
    if create:
        Customer.objects.bulk_create([Customer(ref=ref) for ref in refs], ignore_conflicts=True)
    customers.update(Customer.objects.filter(ref__in=refs).values_list("ref", "pk"))


def write_orders(rows: Sequence[Row]) -> None:
    """Insert or update orders by ref, their derived facts to be derived again."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Order.objects.bulk_create(
            [Order(**dict(zip(WRITTEN, row, strict=True))) for row in rows],
            update_conflicts=True,
            unique_fields=["ref"],
            update_fields=[*WRITTEN[1:], *DERIVED],
        )
        return
    table = Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE order_import (ref text, customer_id int8, "
            "ordered_at timestamptz, amount numeric, product text, channel text)"
        )
        with cursor.cursor.copy(f"COPY order_import ({', '.join(WRITTEN)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        updates = ", ".join(
            [
                *(f"{name} = EXCLUDED.{name}" for name in WRITTEN[1:]),
                *(f"{d} = NULL" for d in DERIVED),
            ]
        )
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(WRITTEN)}) "  # noqa: S608 - no input in it
            f"SELECT {', '.join(WRITTEN)} FROM order_import "
            f"ON CONFLICT (ref) DO UPDATE SET {updates}"
        )
        cursor.execute("DROP TABLE order_import")


# The derived facts of every order of the customers with an order not derived yet, from
# their whole history: windows over each customer's orders in time (then id) order,
# refunds apart in their own partitions (they are no orders) and left without facts.
DERIVE = f"""
UPDATE {Order._meta.db_table} SET
       previous_ordered_at = derived.previous_ordered_at,
       second_previous_ordered_at = derived.second_previous_ordered_at,
       is_upsell = derived.is_upsell,
       previous_upsell_at = derived.previous_upsell_at
  FROM (SELECT id,
               CASE WHEN counted THEN LAG(ordered_at, 1) OVER chain END AS previous_ordered_at,
               CASE WHEN counted THEN LAG(ordered_at, 2) OVER chain END
                   AS second_previous_ordered_at,
               is_upsell,
               CASE WHEN is_upsell THEN LAG(ordered_at) OVER upsells END AS previous_upsell_at
          FROM (SELECT id, customer_id, ordered_at, amount >= 0 AS counted,
                       amount >= 0
                       AND ordered_at = MIN(ordered_at)
                           OVER (PARTITION BY customer_id, amount >= 0, product)
                       AND ordered_at > MIN(ordered_at)
                           OVER (PARTITION BY customer_id, amount >= 0) AS is_upsell
                  FROM {Order._meta.db_table}
                 WHERE customer_id IN (SELECT customer_id FROM {Order._meta.db_table}
                                        WHERE is_upsell IS NULL)) AS flagged
        WINDOW chain AS (PARTITION BY customer_id, counted ORDER BY ordered_at, id),
               upsells AS (PARTITION BY customer_id, is_upsell ORDER BY ordered_at, id)
       ) AS derived
 WHERE {Order._meta.db_table}.id = derived.id"""  # noqa: S608 - no input in it


@transaction.atomic
def derive_pending() -> int:
    """Derive the facts of the orders imported or changed since the last time, and of the
    other orders of their customers; returns the orders written."""
    if not Order.objects.filter(is_upsell__isnull=True).exists():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(DERIVE)
        return cursor.rowcount
