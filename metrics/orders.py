"""Orders: the import from CSV, one service for `manage.py import_orders`, the admin's
upload and the demo data.

The rows of `ref,customer_ref,ordered_at,amount,product[,channel]` are checked one by
one and staged in a temporary table, in batches (COPY on PostgreSQL); then what needs
the whole file (a ref given twice, unknown customers) is checked in the database, and
the orders are upserted by `ref` in one transaction, with the facts about each
customer's history that the KPIs read (Order's last four fields): a fixed number of
statements whatever the size of the file. A refused row changes nothing and is reported
with its line, column and reason; an import that fails writes no order.
"""

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.translation import gettext as _

from metrics.models import Order
from surveys.models import Customer
from surveys.text import CONTROL_CHARACTERS

if TYPE_CHECKING:
    from _csv import _reader

COLUMNS = ("ref", "customer_ref", "ordered_at", "amount", "product")
OPTIONAL_COLUMNS = ("channel",)
BATCH = 10_000
# Ten digits before the decimal mark (Order.amount has 12, two of them decimals), then a
# point or a Dutch comma and at most two decimals.
AMOUNT = re.compile(r"-?\d{1,10}(?:[.,]\d{1,2})?")
MAX_LENGTH = {"ref": 100, "customer_ref": 100, "product": 200, "channel": 100}
# Imports take turns: each derives its customers' facts from the orders before it.
IMPORT_LOCK = 0x4F52444552  # "ORDER"


class ImportFileError(Exception):
    """The file as a whole cannot be read as orders (not UTF-8, no header, columns missing)."""


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


# A row of the file that passed the checks of its own: line, then the staged columns. The
# amount stays the checked text (with a decimal point), which the database converts: in
# Python, the Decimal and its binary form would cost more than the rest of the row.
Staged = tuple[int, str, str, datetime, str, str, str]
STAGED = ("line", "ref", "customer_ref", "ordered_at", "amount", "product", "channel")
STAGED_TYPES = ["int4", "text", "text", "timestamptz", "text", "text", "text"]  # binary COPY
WRITTEN = ("ref", "customer_id", "ordered_at", "amount", "product", "channel")
FACTS = ("previous_ordered_at", "second_previous_ordered_at", "is_upsell", "previous_upsell_at")


def decode(data: bytes) -> str:
    """The text of an uploaded file, which must be UTF-8 (a leading BOM, as Excel writes
    it, is dropped)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            _("The file is not UTF-8 text: save it as CSV in UTF-8 and try again.")
        ) from None


def import_orders(
    *,
    lines: Iterable[str],
    create_customers: bool = False,
    progress: Callable[[int], object] | None = None,
) -> ImportResult:
    """Import the orders of a CSV file given as lines (its header first).

    `progress` is told the lines read after each batch. Unknown customer references are
    refused, or created with `create_customers`.
    """
    reader = csv.reader(lines)
    positions = _header(next(reader, None))
    result = ImportResult()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS order_import")
        cursor.execute(f"CREATE TEMPORARY TABLE order_import ({_staged_columns()})")
        try:
            parsed = _parse(reader, positions, result.refusals)
            while batch := list(islice(parsed, BATCH)):
                _stage(cursor, batch)
                if progress:
                    progress(reader.line_num)
            with transaction.atomic():
                _write(cursor, result, create_customers)
        finally:
            cursor.execute("DROP TABLE IF EXISTS order_import")
            cursor.execute("DROP TABLE IF EXISTS order_facts")
    result.refusals.sort(key=lambda refusal: refusal.line)
    return result


def _staged_columns() -> str:
    """The staging table's columns, typed as the orders' (with the line of each row), but
    for the amount's text."""
    types = {
        name: Order._meta.get_field(name).db_type(connection)  # type: ignore[union-attr]
        for name in ("ref", *WRITTEN[2:])
    }
    ref = types["ref"]
    return (
        f"line integer, ref {ref}, customer_ref {ref}, ordered_at {types['ordered_at']}, "
        f"amount text, product {types['product']}, channel {types['channel']}"
    )


def _header(header: list[str] | None) -> dict[str, int]:
    """The position of each column, by name; the columns may come in any order."""
    if not header:
        raise ImportFileError(_("The file is empty: its first line must name the columns."))
    names = [name.strip().lower() for name in header]
    missing = [name for name in COLUMNS if name not in names]
    if missing:
        raise ImportFileError(
            _("The first line must name the columns %(columns)s; missing: %(missing)s.")
            % {"columns": ",".join(COLUMNS), "missing": ", ".join(missing)}
        )
    return {name: names.index(name) for name in (*COLUMNS, *OPTIONAL_COLUMNS) if name in names}


def _parse(
    reader: "_reader", positions: dict[str, int], refusals: list[Refusal]
) -> Iterator[Staged]:
    """The rows that pass the checks of their own; the others' refusals go to `refusals`."""
    zone = timezone.get_default_timezone()
    names = (*COLUMNS, *OPTIONAL_COLUMNS)
    # A column the header does not name reads the empty value that pads a short row.
    width = max(positions.values()) + 1
    pick = itemgetter(*(positions.get(name, width) for name in names))
    padding = [""] * (width + 1)
    strip = str.strip
    line_num = reader.line_num
    for row in reader:
        # A quoted value may span lines: a row is named by the line it starts on.
        line, line_num = line_num + 1, reader.line_num
        if len(row) <= width:
            row += padding[len(row) :]
        ref, customer_ref, ordered_at, amount, product, channel = map(strip, pick(row))
        if not (ref or customer_ref or ordered_at or amount or product or channel):
            continue  # a blank line
        # The common case in one go; which value is wrong is found when one is.
        if not (
            ref
            and customer_ref
            and ordered_at
            and amount
            and product
            and len(ref) <= MAX_LENGTH["ref"]
            and len(customer_ref) <= MAX_LENGTH["customer_ref"]
            and len(product) <= MAX_LENGTH["product"]
            and len(channel) <= MAX_LENGTH["channel"]
            and not CONTROL_CHARACTERS.search(ref + customer_ref + product + channel)
        ):
            values = (ref, customer_ref, ordered_at, amount, product, channel)
            problem = _text_problem(dict(zip(names, values, strict=True)))
            if problem:
                refusals.append(Refusal(line, *problem))
                continue
        try:
            when = datetime.fromisoformat(ordered_at)
        except ValueError:
            reason = _("not an ISO 8601 time such as 2025-03-01T14:30:00+01:00: %(value)r")
            refusals.append(Refusal(line, "ordered_at", reason % {"value": ordered_at}))
            continue
        if not AMOUNT.fullmatch(amount):
            reason = _("not an amount such as 12.50 or 12,50: %(value)r")
            refusals.append(Refusal(line, "amount", reason % {"value": amount}))
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        yield line, ref, customer_ref, when, amount.replace(",", "."), product, channel


def _text_problem(values: dict[str, str]) -> tuple[str, str] | None:
    for name in COLUMNS:
        if not values[name]:
            return name, _("empty")
    for name, limit in MAX_LENGTH.items():
        if len(values[name]) > limit:
            return name, _("longer than %(limit)d characters") % {"limit": limit}
        if CONTROL_CHARACTERS.search(values[name]):
            return name, _("contains a control character")
    return None


def _stage(cursor: CursorWrapper, rows: list[Staged]) -> None:
    if connection.vendor == "postgresql":
        binary = f"COPY order_import ({', '.join(STAGED)}) FROM STDIN (FORMAT BINARY)"
        with cursor.cursor.copy(binary) as copy:
            copy.set_types(STAGED_TYPES)
            for row in rows:
                copy.write_row(row)
        return
    adapt = connection.ops.adapt_datetimefield_value
    cursor.executemany(
        "INSERT INTO order_import VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            (line, ref, who, adapt(at), amount, what, via)
            for line, ref, who, at, amount, what, via in rows
        ],
    )


def _write(cursor: CursorWrapper, result: ImportResult, create_customers: bool) -> None:
    """Refuse what the whole file shows wrong, then write the rest by ref with their facts."""
    if connection.vendor == "postgresql":
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])
        cursor.execute("ANALYZE order_import")
        # The histories are sorted in memory, not on disk.
        cursor.execute("SET LOCAL work_mem = '128MB'")
    cursor.execute(REPEATED)
    repeated = [
        Refusal(line, "ref", _("the same ref as line %(line)d") % {"line": first})
        for line, first in cursor.fetchall()
    ]
    if repeated:
        result.refusals += repeated
        cursor.execute(DROP_REPEATED)
    if create_customers:
        cursor.execute(f"SELECT DISTINCT customer_ref {UNKNOWN}")
        new = [Customer(ref=ref) for (ref,) in cursor.fetchall()]
        Customer.objects.bulk_create(new, batch_size=5000, ignore_conflicts=True)
    cursor.execute(f"SELECT line, customer_ref {UNKNOWN}")
    unknown = [
        Refusal(line, "customer_ref", _("no customer with this reference: %(ref)r") % {"ref": ref})
        for line, ref in cursor.fetchall()
    ]
    if unknown:
        result.refusals += unknown
        cursor.execute(f"DELETE {UNKNOWN}")
    cursor.execute(EXISTING)
    (existing,) = cursor.fetchone()
    cursor.execute("SELECT COUNT(*) FROM order_import")
    (staged,) = cursor.fetchone()
    cursor.execute(DERIVE_FACTS)
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    cursor.execute(UPDATE_CHANGED.format(differs=differs))
    cursor.execute(INSERT_NEW)
    result.updated, result.created = existing, staged - existing


TABLE = Order._meta.db_table
CUSTOMERS = Customer._meta.db_table
# Rows whose ref an earlier line of the file has, with the first such line: the refs
# given more than once in one pass (hashed: a sort of every ref costs half as much again).
REPEATED = """
SELECT i.line, r.first
  FROM order_import i
  JOIN (SELECT ref, MIN(line) AS first FROM order_import GROUP BY ref HAVING COUNT(*) > 1) r
    ON i.ref = r.ref
 WHERE i.line > r.first"""
EXISTING = f"SELECT COUNT(*) FROM {TABLE} WHERE ref IN (SELECT ref FROM order_import)"  # noqa: S608
DROP_REPEATED = f"DELETE FROM order_import WHERE line IN (SELECT line FROM ({REPEATED}) r)"  # noqa: S608
# The rows of customers unknown (to select or delete).
UNKNOWN = f"FROM order_import WHERE customer_ref NOT IN (SELECT ref FROM {CUSTOMERS})"  # noqa: S608
# The staged rows with their customers' ids, and the id of the order each updates (none
# for a new ref).
STAGED_ROWS = f"""
SELECT o.id, i.ref, c.id AS customer_id, i.ordered_at, CAST(i.amount AS numeric) AS amount,
       i.product, i.channel
  FROM order_import i JOIN {CUSTOMERS} c ON c.ref = i.customer_ref
  LEFT JOIN {TABLE} o ON o.ref = i.ref"""  # noqa: S608
# The customers whose history the import changes: those of its rows, and those a row leaves.
TOUCHED = f"""
SELECT customer_id FROM ({STAGED_ROWS}) AS staged
 UNION SELECT customer_id FROM {TABLE} WHERE ref IN (SELECT ref FROM order_import)"""  # noqa: S608
# The facts of every order of those customers, from their whole history with the new
# rows in it, by windows over each customer's orders in (ordered_at, ref) order: refunds
# in partitions of their own (they are no orders), and then left without facts. Two
# sorts: by product, for the first time the customer ordered each, then in that order,
# which the outer windows share. The staged rows come with all their columns.
DERIVE_FACTS = f"""
CREATE TEMPORARY TABLE order_facts AS
SELECT id, {", ".join(WRITTEN)}, previous_ordered_at, second_previous_ordered_at, is_upsell,
       CASE WHEN is_upsell THEN MAX(CASE WHEN is_upsell THEN ordered_at END) OVER before END
       AS previous_upsell_at
  FROM (SELECT *,
               CASE WHEN counted THEN LAG(ordered_at, 1) OVER chain END AS previous_ordered_at,
               CASE WHEN counted THEN LAG(ordered_at, 2) OVER chain END
               AS second_previous_ordered_at,
               counted
               AND ordered_at = first_of_product
               AND ordered_at > FIRST_VALUE(ordered_at) OVER chain AS is_upsell
          FROM (SELECT *, MIN(ordered_at) OVER (PARTITION BY customer_id, counted, product)
                          AS first_of_product
                  FROM (SELECT id, {", ".join(WRITTEN)}, amount >= 0 AS counted FROM {TABLE}
                         WHERE customer_id IN ({TOUCHED})
                           AND ref NOT IN (SELECT ref FROM order_import)
                         UNION ALL
                        SELECT staged.*, staged.amount >= 0 FROM ({STAGED_ROWS}) AS staged
                       ) AS history
               ) AS products
        WINDOW chain AS (PARTITION BY customer_id, counted ORDER BY ordered_at, ref)
       ) AS flagged
WINDOW before AS (PARTITION BY customer_id, counted ORDER BY ordered_at, ref
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"""  # noqa: S608
# The new refs, in time order, so that a period's orders lie together on disk. A plain
# INSERT, not an upsert: under IMPORT_LOCK nothing else adds orders, and the staged rows
# of known refs carry their order's id (an upsert's check of each row costs a quarter more).
INSERT_NEW = f"""
INSERT INTO {TABLE} ({", ".join((*WRITTEN, *FACTS))})
SELECT {", ".join((*WRITTEN, *FACTS))} FROM order_facts WHERE id IS NULL
 ORDER BY ordered_at, ref"""  # noqa: S608
# The orders of known refs, and those whose facts the import changes, where they differ.
CHANGEABLE = (*WRITTEN[1:], *FACTS)
UPDATE_CHANGED = f"""
UPDATE {TABLE} SET {", ".join(f"{name} = f.{name}" for name in CHANGEABLE)}
  FROM order_facts f
 WHERE {TABLE}.id = f.id
   AND ({" OR ".join(f"{TABLE}.{name} {{differs}} f.{name}" for name in CHANGEABLE)})"""  # noqa: S608
