"""Importing 100,000 customers from CSV, against a plain bulk_create of the same rows.

See bench/README.md.
"""

import csv
import io
import random
from datetime import date, timedelta

from _common import migrate_and_flush, timed, verdict
from django.db import connection

from surveys.imports import import_customers
from surveys.models import Customer

N = 100_000
SEGMENTS = ["consumer", "small business", "enterprise"]


def rows(rng: random.Random) -> list[dict[str, str]]:
    start = date(2015, 1, 1)
    return [
        {
            "ref": f"C{i:07d}",
            "email": f"customer{i}@example.com",
            "name": f"Customer {i}",
            "segment": rng.choice(SEGMENTS),
            "language": rng.choice(["nl", "en"]),
            "phone": f"+31 6 {i:08d}",
            "customer_since": (start + timedelta(days=rng.randrange(3650))).isoformat(),
        }
        for i in range(N)
    ]


def as_csv(records: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), delimiter=";")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode("utf-8-sig")


def empty_customers() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Customer._meta.db_table} RESTART IDENTITY CASCADE")


def bulk_create(records: list[dict[str, str]]) -> None:
    Customer.objects.bulk_create(
        (
            Customer(**{**r, "customer_since": date.fromisoformat(r["customer_since"])})
            for r in records
        ),
        batch_size=1000,
    )


def main() -> None:
    migrate_and_flush()
    records = rows(random.Random(1))
    data = as_csv(records)
    print(f"{N:,} customers, {len(data) / 1e6:.1f} MB of CSV (semicolons, with a BOM)")
    baselines, imports = [], []
    for _ in range(2):  # alternated, as this machine's speed varies
        empty_customers()
        baselines.append(timed(lambda: bulk_create(records)))
        empty_customers()
        report = None

        def run() -> None:
            nonlocal report
            report = import_customers(data=data)

        imports.append(timed(run))
        if report is None or report.summary != f"created {N}, updated 0, refused 0":
            raise SystemExit(f"The import went wrong: {report}")
    baseline, imported = min(baselines), min(imports)
    print(f"plain bulk_create: {baseline:.2f} s ({N / baseline:,.0f} rows/s), best of 2")
    print(f"import_customers:  {imported:.2f} s ({N / imported:,.0f} rows/s), best of 2")
    verdict("ratio of rows per second, import / bulk_create", baseline / imported, 0.5)
    updated = timed(lambda: import_customers(data=data))
    print(f"the same file again, {N:,} updates: {updated:.2f} s ({N / updated:,.0f} rows/s)")


if __name__ == "__main__":
    main()
