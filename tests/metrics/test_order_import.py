"""Importing orders from CSV: `manage.py import_orders` and its service."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from metrics import orders
from metrics.models import Order
from surveys.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "ref,customer_ref,ordered_at,amount,product"


def run(tmp_path, text, *args, encoding="utf-8"):
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode(encoding))
    out = io.StringIO()
    call_command("import_orders", str(path), *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def customers(db):
    return [CustomerFactory(ref="C1"), CustomerFactory(ref="C2")]


def test_orders_are_created_then_updated_by_ref(tmp_path, customers):
    lines = run(
        tmp_path,
        f"{HEADER}\n"
        "A1,C1,2025-03-01T14:30:00+01:00,12.50,shoes\n"
        'A2,C2,2025-03-02T09:00:00Z,"7,95",socks\n',
    )
    assert lines[-1] == "created 2, updated 0, refused 0"

    lines = run(
        tmp_path,
        f"{HEADER},channel\nA2,C1,2025-03-03T10:00:00,-7.95,socks,web\nA3,C2,2025-03-04,100,hat,\n",
    )
    assert lines[-1] == "created 1, updated 1, refused 0"
    a1, a2, a3 = Order.objects.order_by("ref")
    assert (a1.amount, a1.ordered_at) == (
        Decimal("12.50"),
        datetime(2025, 3, 1, 13, 30, tzinfo=UTC),
    )
    # Without an offset, a time is Amsterdam's (TIME_ZONE); a date alone is its midnight.
    assert a2.customer.ref == "C1" and a2.is_refund and a2.channel == "web"
    assert a2.ordered_at == datetime(2025, 3, 3, 9, tzinfo=UTC)
    assert a3.ordered_at == datetime(2025, 3, 3, 23, tzinfo=UTC) and a3.amount == 100


def test_each_refused_row_is_reported_with_line_column_and_reason_and_changes_nothing(
    tmp_path, customers
):
    run(tmp_path, f"{HEADER}\nKEEP,C1,2025-03-01T10:00:00,10.00,shoes\n")

    lines = run(
        tmp_path,
        f"{HEADER}\n"
        "KEEP,C1,2025-03-01T10:00:00,not money,shoes\n"  # 2: would update KEEP
        "B2,C9,2025-03-01T10:00:00,5.00,shoes\n"  # 3: unknown customer
        "B3,C1,yesterday,5.00,shoes\n"  # 4
        "B4,C1,2025-03-01T10:00:00,1.234,shoes\n"  # 5: three decimals
        'B5,C1,2025-03-01T10:00:00,"1.234,56",shoes\n'  # 6: a thousands separator
        ",C1,2025-03-01T10:00:00,5.00,shoes\n"  # 7: no ref
        "B7,C1,2025-03-01T10:00:00,5.00,\n"  # 8: no product
        "B8,C1,2025-03-01T10:00:00,5.00,sh\x00oes\n"  # 9: a NUL
        f"B9,C1,2025-03-01T10:00:00,5.00,{'x' * 201}\n"  # 10: too long
        "B10,C1,2025-03-01T10:00:00\n"  # 11: cut short
        "OK,C2,2025-03-01T10:00:00,5.00,shoes\n"  # 12
        "OK,C2,2025-03-02T10:00:00,6.00,shoes\n",  # 13: the same ref again
    )

    assert lines == [
        "line 2, amount: not an amount such as 12.50 or 12,50: 'not money'",
        "line 3, customer_ref: no customer with this reference: 'C9'",
        "line 4, ordered_at: not an ISO 8601 time such as 2025-03-01T14:30:00+01:00: 'yesterday'",
        "line 5, amount: not an amount such as 12.50 or 12,50: '1.234'",
        "line 6, amount: not an amount such as 12.50 or 12,50: '1.234,56'",
        "line 7, ref: empty",
        "line 8, product: empty",
        "line 9, product: contains a control character",
        "line 10, product: longer than 200 characters",
        "line 11, amount: empty",
        "line 13, ref: the same ref as line 12",
        "created 1, updated 0, refused 11",
    ]
    assert sorted(Order.objects.values_list("ref", "amount")) == [
        ("KEEP", Decimal("10.00")),
        ("OK", Decimal("5.00")),
    ]
    assert not Customer.objects.filter(ref="C9").exists()


def test_unknown_customers_can_be_created(tmp_path, customers):
    lines = run(
        tmp_path,
        f"{HEADER}\nN1,NEW,2025-03-01T10:00:00,5.00,shoes\nN2,NEW,2025-03-02T10:00:00,5.00,hat\n",
        "--create-customers",
    )

    assert lines[-1] == "created 2, updated 0, refused 0"
    new = Customer.objects.get(ref="NEW")
    assert new.orders.count() == 2 and new.customer_since is None


def test_blank_lines_are_skipped_and_a_quoted_line_break_keeps_the_line_numbers(
    tmp_path, customers
):
    lines = run(
        tmp_path,
        f"\ufeff{HEADER}\r\n\r\n"  # Excel's BOM and line ends
        'Q1,C1,2025-03-01T10:00:00,5.00,"two\r\nlines"\r\n'
        "Q2,C1,2025-03-01T10:00:00,x,shoes\r\n",
    )

    assert lines[-2:] == [
        "line 5, amount: not an amount such as 12.50 or 12,50: 'x'",
        "created 1, updated 0, refused 1",
    ]
    assert Order.objects.get().product == "two\r\nlines"


def test_columns_may_come_in_any_order_with_others_ignored(tmp_path, customers):
    lines = run(
        tmp_path,
        "Product,Amount,note,Ordered_At,Customer_Ref,Ref\nshoes,5.00,hi,2025-03-01,C1,R1\n",
    )

    assert lines[-1] == "created 1, updated 0, refused 0"
    assert Order.objects.get().product == "shoes"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty"),
        ("ref,customer_ref,amount\nA,C1,5\n", "missing: ordered_at, product"),
    ],
)
def test_a_file_without_its_columns_is_refused_whole(tmp_path, customers, text, message):
    with pytest.raises(CommandError, match=message):
        run(tmp_path, text)
    assert not Order.objects.exists()


def test_a_file_that_is_not_utf8_is_refused_whole(tmp_path, customers):
    with pytest.raises(CommandError, match="not UTF-8"):
        run(tmp_path, f"{HEADER}\nA,C1,2025-03-01,5.00,café\n", encoding="latin-1")
    assert not Order.objects.exists()


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_orders", str(tmp_path / "nothing.csv"))


def test_progress_is_told_after_each_batch(monkeypatch, customers):
    monkeypatch.setattr(orders, "BATCH", 2)
    rows = "".join(f"P{i},C1,2025-03-01T10:00:00,5.00,shoes\n" for i in range(5))
    told = []

    result = orders.import_orders(lines=io.StringIO(f"{HEADER}\n{rows}"), progress=told.append)

    assert told == [3, 5, 6] and result.created == 5
