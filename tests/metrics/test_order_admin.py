"""Orders in the admin: the upload, imported by a Celery task with progress, and the list."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from metrics import order_imports
from metrics.models import Order, OrderImport
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

GOOD = (
    "ref,customer_ref,ordered_at,amount,product\n"
    "A1,C1,2025-03-01T10:00:00,10.00,shoes\n"
    "A2,C1,2025-03-02T10:00:00,oops,shoes\n"
    'A3,NEW,2025-03-03T10:00:00,"5,50",hat\n'
)


def upload(client, content, **fields):
    return client.post(
        reverse("admin:metrics_orderimport_add"),
        {"file": SimpleUploadedFile("orders.csv", content.encode()), **fields},
    )


def test_an_upload_is_imported_after_commit_with_its_refusals_kept(
    admin_client, eager_celery, django_capture_on_commit_callbacks
):
    CustomerFactory(ref="C1")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, GOOD)

    done = OrderImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:metrics_orderimport_change", args=[done.pk])
    assert (done.status, done.created, done.updated, done.refused) == ("done", 1, 0, 2)
    assert done.refusals == [
        [3, "amount", "not an amount such as 12.50 or 12,50: 'oops'"],
        [4, "customer_ref", "no customer with this reference: 'NEW'"],
    ]
    assert (done.file_name, done.lines, done.lines_done, done.content) == ("orders.csv", 4, 4, "")
    assert list(Order.objects.values_list("ref", flat=True)) == ["A1"]

    page = admin_client.get(response["Location"]).content.decode()
    assert "no customer with this reference: &#x27;NEW&#x27;" in page
    assert '<progress max="100" value="100">' in page and "4 of 4 lines read" in page
    assert 'http-equiv="refresh"' not in page


def test_unknown_customers_are_created_when_asked(
    admin_client, eager_celery, django_capture_on_commit_callbacks
):
    CustomerFactory(ref="C1")
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, GOOD, create_customers="on")

    assert OrderImport.objects.get().created == 2
    assert Order.objects.get(ref="A3").customer.ref == "NEW"


def test_refusals_are_written_in_the_uploaders_language(
    admin_client, eager_celery, django_capture_on_commit_callbacks
):
    CustomerFactory(ref="C1")
    admin_client.cookies["django_language"] = "nl"
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, GOOD)

    assert OrderImport.objects.get().refusals[1] == [
        4,
        "customer_ref",
        "geen klant met deze referentie: 'NEW'",
    ]


def test_a_file_that_is_not_utf8_is_refused_by_the_form(admin_client):
    response = admin_client.post(
        reverse("admin:metrics_orderimport_add"),
        {"file": SimpleUploadedFile("orders.csv", "ref,café\n".encode("latin-1"))},
    )

    assert response.status_code == 200
    assert "The file is not UTF-8 text" in response.content.decode()
    assert not OrderImport.objects.exists()


def test_a_file_without_its_columns_fails_with_the_reason(
    admin_client, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, "ref,amount\nA,5\n")

    failed = OrderImport.objects.get()
    assert failed.status == "failed"
    assert "missing: customer_ref, ordered_at, product" in failed.error


def test_the_page_of_a_running_import_shows_its_progress_and_refreshes(admin_client):
    running = OrderImport.objects.create(
        file_name="big.csv", lines=200_000, lines_done=50_000, status="running"
    )

    page = admin_client.get(reverse("admin:metrics_orderimport_change", args=[running.pk]))

    html = page.content.decode()
    assert '<meta http-equiv="refresh" content="3">' in html
    assert '<progress max="100" value="25">' in html and "50,000 of 200,000 lines read" in html


def test_an_import_is_claimed_once(db):
    CustomerFactory(ref="C1")
    waiting = OrderImport.objects.create(file_name="o.csv", content=GOOD, lines=4)

    assert order_imports.run(waiting.pk) is True
    assert order_imports.run(waiting.pk) is False
    assert Order.objects.count() == 1


def test_the_sweeper_sends_again_imports_whose_task_went_missing(db, monkeypatch):
    sent = []
    monkeypatch.setattr(order_imports, "enqueue", lambda upload: sent.append(upload.pk))
    long_ago = timezone.now() - timedelta(hours=1)
    lost = OrderImport.objects.create(file_name="lost.csv")
    stalled = OrderImport.objects.create(file_name="stalled.csv", status="running")
    OrderImport.objects.create(file_name="new.csv")
    OrderImport.objects.create(file_name="busy.csv", status="running", progressed_at=timezone.now())
    OrderImport.objects.filter(pk__in=[lost.pk, stalled.pk]).update(uploaded_at=long_ago)
    OrderImport.objects.filter(pk=stalled.pk).update(progressed_at=long_ago)

    assert order_imports.resume_stalled() == 2
    assert sorted(sent) == sorted([lost.pk, stalled.pk])
    # A stalled import, claimed again, is imported afresh.
    OrderImport.objects.filter(pk=stalled.pk).update(content=GOOD)
    CustomerFactory(ref="C1")
    assert order_imports.run(stalled.pk) is True


def test_orders_are_listed_read_only_with_a_link_to_import(admin_client):
    customer = CustomerFactory(ref="C1")
    order = Order.objects.create(
        ref="A1", customer=customer, ordered_at=timezone.now(), amount=5, product="hat"
    )

    listing = admin_client.get(reverse("admin:metrics_order_changelist")).content.decode()
    assert reverse("admin:metrics_orderimport_add") in listing and "A1" in listing
    page = admin_client.get(reverse("admin:metrics_order_change", args=[order.pk]))
    assert page.status_code == 200
    assert 'name="amount"' not in page.content.decode()
    assert (
        admin_client.post(reverse("admin:metrics_order_delete", args=[order.pk])).status_code == 403
    )
