"""Customer import: the report for bad rows, repeated references and wrong columns."""

from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from surveys.imports import ImportRefused, import_customers
from surveys.models import Customer, CustomerImport
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "ref,email,name,segment,language"


def run(text: str, encoding: str = "utf-8"):
    return import_customers(data=text.encode(encoding))


def test_good_rows_are_created_and_known_references_updated():
    known = CustomerFactory(ref="C1", email="old@example.com", name="Old", segment="b2c")
    known.bouncing_since = known.created_at
    known.save()

    report = run(
        "email,ref,language,name,segment,customer_since\n"
        "ann@example.com,C1,nl,Ann de Vries,b2b,2020-03-01\n"
        "bo@example.com,C2,en,Bo,b2c,\n"
    )

    assert report.summary == "created 1, updated 1, refused 0"
    known.refresh_from_db()
    assert (known.email, known.name, known.segment, known.language) == (
        "ann@example.com",
        "Ann de Vries",
        "b2b",
        "nl",
    )
    assert known.customer_since == date(2020, 3, 1)
    assert known.bouncing_since is None  # a corrected address is tried again
    assert Customer.objects.get(ref="C2").email == "bo@example.com"


def test_bad_rows_are_reported_with_line_column_and_reason_and_change_nothing():
    CustomerFactory(ref="C9", email="keep@example.com")

    report = run(
        f"{HEADER},customer_since\n"
        "C1,not-an-email,Ann,b2b,nl,\n"
        "C2,bo@example.com,Bo,b2b,de,\n"
        "C3,cy@example.com,Cy,b2b,en,31-02-2020\n"
        "C9,changed@example.com,Nine,b2b,en,yesterday\n"
        "C4,dee@example.com,Dee,b2b,en,2021-05-04\n"
    )

    assert report.summary == "created 1, updated 0, refused 4"
    assert [(p.line, p.column) for p in report.problems] == [
        (2, "email"),
        (3, "language"),
        (4, "customer_since"),
        (5, "customer_since"),
    ]
    assert "not-an-email" in report.problems[0].reason
    assert "de" in report.problems[1].reason
    assert list(Customer.objects.values_list("ref", flat=True).order_by("ref")) == ["C4", "C9"]
    assert Customer.objects.get(ref="C9").email == "keep@example.com"


def test_a_reference_repeated_in_the_file_refuses_each_of_its_rows():
    report = run(
        f"{HEADER}\nC1,a@example.com,A,,en\nC2,b@example.com,B,,en\nC1,c@example.com,C,,en\n"
    )

    assert report.summary == "created 1, updated 0, refused 2"
    assert [(p.line, p.column) for p in report.problems] == [(2, "ref"), (4, "ref")]
    assert "2, 4" in report.problems[0].reason
    assert list(Customer.objects.values_list("ref", flat=True)) == ["C2"]


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("ref,email,name,language", ["segment"]),
        ("ref,email,name,segment,language,birthday", ["birthday"]),
        ("ref,e-mail,name,segment,language", ["email", "e-mail"]),
    ],
)
def test_a_header_with_wrong_columns_refuses_the_whole_file(header, named):
    with pytest.raises(ImportRefused) as refused:
        run(f"{header}\nC1,a@example.com,A,b2b,en,x\n")

    for column in named:
        assert column in refused.value.message
    assert not Customer.objects.exists()


def test_a_dutch_excel_file_with_semicolons_and_a_bom():
    report = run(
        "ref;email;name;segment;language;phone\r\n"
        "C1;jan@example.nl;Jan Møller, jr.;zakelijk;nl;+31 20 123 4567\r\n",
        encoding="utf-8-sig",
    )

    assert report.summary == "created 1, updated 0, refused 0"
    customer = Customer.objects.get()
    assert (customer.ref, customer.name, customer.phone) == (
        "C1",
        "Jan Møller, jr.",
        "+31 20 123 4567",
    )


def test_the_command_ends_with_the_counts(tmp_path, capsys):
    path = tmp_path / "customers.csv"
    path.write_text(f"{HEADER}\nC1,a@example.com,A,,en\nC2,bad,B,,en\n")

    call_command("import_customers", str(path))

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("line 3, column email:")
    assert lines[-1] == "created 1, updated 0, refused 1"


def test_the_command_fails_on_a_wrong_header(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("ref,email\nC1,a@example.com\n")

    with pytest.raises(CommandError, match="name, segment, language"):
        call_command("import_customers", str(path))


def test_an_upload_in_the_admin_is_imported_by_a_task_with_its_report(
    admin_client, eager_celery, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "klanten.csv", f"{HEADER}\nC1,a@example.com,A,,en\nC2,b@example.com,B,,xx\n".encode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        page = admin_client.post(reverse("admin:surveys_customer_import"), {"file": upload})

    done = CustomerImport.objects.get()
    assert page.status_code == 302
    assert page.url == reverse("admin:surveys_customer_import_status", args=[done.pk])
    assert (done.status, done.rows, done.rows_done) == ("done", 2, 2)
    assert (done.created, done.updated, done.refused) == (1, 0, 1)
    report = admin_client.get(page.url).content.decode()
    assert "Created 1, updated 0, refused 1." in report
    assert "xx" in report


def test_the_status_page_shows_progress_while_importing(admin_client):
    running = CustomerImport.objects.create(
        file_name="big.csv", data=b"", status="running", rows=200, rows_done=50
    )

    page = admin_client.get(reverse("admin:surveys_customer_import_status", args=[running.pk]))

    html = page.content.decode()
    assert '<progress id="import-progress" max="100" value="25">' in html
    assert 'http-equiv="refresh"' in html


def test_a_control_character_refuses_its_row_and_not_the_file():
    report = run(f"{HEADER}\nC1,ann@example.com,Ann\x00Bee,b2b,nl\nC2,bo@example.com,Bo,b2b,en\n")

    assert report.summary == "created 1, updated 0, refused 1"
    assert [(p.line, p.column) for p in report.problems] == [(2, "name")]
    assert list(Customer.objects.values_list("ref", flat=True)) == ["C2"]


def test_a_file_that_is_not_readable_csv_is_refused_with_its_line():
    huge = "x" * 200_000

    with pytest.raises(ImportRefused, match="Line 2 cannot be read as CSV"):
        run(f"{HEADER}\nC1,ann@example.com,{huge},b2b,nl\n")
    assert not Customer.objects.exists()


def test_an_import_that_fails_unexpectedly_ends_as_refused(monkeypatch):
    from surveys import tasks

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tasks, "import_customers", broken)
    upload = CustomerImport.objects.create(data=f"{HEADER}\n".encode(), language="en")

    with pytest.raises(RuntimeError):
        tasks.import_customer_file(upload.pk)

    upload.refresh_from_db()
    assert upload.status == CustomerImport.Status.REFUSED
    assert "unexpected error" in upload.message


def test_an_upload_made_while_the_broker_is_down_is_imported_by_the_sweeper(
    admin_client, eager_celery, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone
    from kombu.exceptions import OperationalError

    from loyaltysite.broker import breaker
    from surveys import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    upload = SimpleUploadedFile("klanten.csv", f"{HEADER}\nC1,a@example.com,A,,en\n".encode())
    with monkeypatch.context() as patched:
        patched.setattr(tasks.import_customer_file, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            page = admin_client.post(reverse("admin:surveys_customer_import"), {"file": upload})

    waiting = CustomerImport.objects.get()
    assert page.status_code == 302
    assert waiting.status == CustomerImport.Status.QUEUED
    assert tasks.resume_customer_imports() == 0  # not yet: its task may still come

    # Minutes later the broker is back, and this process tries it again.
    CustomerImport.objects.update(created_at=timezone.now() - timedelta(minutes=3))
    breaker.close()
    assert tasks.resume_customer_imports() == 1

    waiting.refresh_from_db()
    assert (waiting.status, waiting.created) == (CustomerImport.Status.DONE, 1)
    assert Customer.objects.filter(ref="C1").exists()
