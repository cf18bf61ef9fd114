"""Erasing a customer: their personal data goes from every table and the mail folder, their
scores stay. One service (metrics.privacy.erase_customer), a command and an admin action."""

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import models
from django.urls import reverse
from django.utils import timezone

from metrics import followups, notifications
from metrics.models import (
    AlertChannel,
    FollowUp,
    Notification,
    Order,
    OrderImport,
    ScoreRollup,
    StaffAction,
)
from metrics.privacy import erase_customer
from metrics.rollups import recompute_rollups
from surveys.models import Customer, CustomerImport, Invitation, Response
from tests.factories import CustomerFactory, SurveyFactory, answer

pytestmark = pytest.mark.django_db

EMAIL, NAME, PHONE, REF = "ann.jansen@example.com", "Ann Jansen", "+31 6 1234 5678", "ANN-77"
IDENTIFIERS = [EMAIL, NAME, PHONE, REF]


def _rollups():
    return sorted(
        ScoreRollup.objects.values_list(
            "question_id", "day", "dimension", "member", "value", "count"
        )
    )


def _everything_that_mentions(texts):
    """Every (table, column) of any model whose value mentions one of the texts."""
    found = set()
    lowered = [text.lower() for text in texts]
    for model in apps.get_models():
        fields = [
            field
            for field in model._meta.concrete_fields
            if isinstance(
                field, models.CharField | models.TextField | models.JSONField | models.BinaryField
            )
        ]
        for row in model.objects.values_list(*(field.attname for field in fields)):
            for field, value in zip(fields, row, strict=True):
                if isinstance(value, bytes | memoryview):
                    value = bytes(value).decode("utf-8", "replace")
                if any(text in str(value).lower() for text in lowered):
                    found.add((model._meta.db_table, field.name))
    return found


@pytest.fixture
def mail_folder(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    return tmp_path


@pytest.fixture
def ann(agent, manager, mail_folder):
    """A customer whose data is everywhere: answers with comments (personal and on the
    public link with her reference), a case worked and replied to, alerts, a survey email,
    the admin's log, an uploaded file and the mail folder."""
    survey = SurveyFactory(template="nps")
    AlertChannel.objects.create(name="Support", kind="email", target="support@example.com")
    customer = CustomerFactory(email=EMAIL, name=NAME, phone=PHONE, ref=REF, segment="retail")
    answer(survey, 2, f"This is {NAME}, call me on {PHONE}", customer=customer)
    answer(survey, 3, "Still waiting for my parcel", ref=REF, touchpoint="delivery")
    answer(survey, 9, "Fine", customer=customer, days_ago=3)
    case = FollowUp.objects.get(response__customer=customer)
    followups.log_contact(followup=case, by=agent, kind="phone", text=f"Called {NAME}")
    followups.reply(followup=case, by=agent, subject="Sorry", body=f"Dear {NAME}, ...")
    followups.resolve(followup=case, by=agent, resolution=f"{NAME} got a refund")
    invitation = Invitation.objects.filter(customer=customer).first()
    Notification.objects.create(
        kind=Notification.Kind.SURVEY,
        invitation=invitation,
        recipient=EMAIL,
        subject="How are we doing?",
        body=f"Dear {NAME}: {invitation.url}",
        headers={"List-Unsubscribe": f"<{invitation.unsubscribe_url}>"},
    )
    for notification in Notification.objects.filter(status="pending"):
        notifications.attempt(notification.pk)
    LogEntry.objects.create(
        user=manager,
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
        object_repr=str(customer),
        action_flag=CHANGE,
        change_message=f"Phone was {PHONE}",
    )
    CustomerImport.objects.create(
        file_name="customers.csv",
        data=f"ref,email,name,segment,language\n{REF},{EMAIL},{NAME},retail,en\n".encode(),
        status=CustomerImport.Status.DONE,
        problems=[{"line": 3, "column": "email", "reason": f"Not an email address: {EMAIL}x"}],
    )
    Order.objects.create(
        ref="O-1", customer=customer, ordered_at=timezone.now(), amount=10, product="shoes"
    )
    OrderImport.objects.create(
        file_name="orders.csv",
        status=OrderImport.Status.DONE,
        refusals=[[2, "ref", f"The ref O-1 is on lines 2, 3 ({REF})."]],
    )
    return customer


@pytest.fixture
def bob(mail_folder):
    """Another customer, whose data stays."""
    bob = CustomerFactory(email="bob@example.com", name="Bob Smit", ref="BOB-1")
    answer(SurveyFactory(template="nps"), 1, "Bob's complaint", customer=bob)
    mail.EmailMessage("Hello Bob", "Bob's mail", to=["bob@example.com"]).send()
    return bob


def test_nothing_anywhere_mentions_the_customer_afterwards(ann, bob, mail_folder):
    assert {table for table, _column in _everything_that_mentions(IDENTIFIERS)} >= {
        "surveys_customer",
        "surveys_answer",
        "surveys_response",
        "metrics_followup",
        "metrics_followupnote",
        "metrics_notification",
        "django_admin_log",
        "surveys_customerimport",
        "metrics_orderimport",
    }
    assert any(EMAIL in path.read_text() for path in mail_folder.iterdir())

    erase_customer(customer=ann)

    assert _everything_that_mentions(IDENTIFIERS) == set()
    assert not any(EMAIL in path.read_text() for path in mail_folder.iterdir())
    # Bob's data is all still there.
    assert Customer.objects.get(pk=bob.pk).email == "bob@example.com"
    assert FollowUp.objects.get(response__customer=bob).comment == "Bob's complaint"
    assert any("Bob's mail" in path.read_text() for path in mail_folder.iterdir())


def test_scores_orders_and_the_customer_row_stay_without_who_they_are(ann):
    before = _rollups()
    invitation = Invitation.objects.filter(customer=ann).first()

    changed = erase_customer(customer=ann)

    assert _rollups() == before
    assert not recompute_rollups(surveys=[invitation.survey])  # no drift to correct
    ann.refresh_from_db()
    assert (ann.email, ann.name, ann.phone, ann.ref) == ("", "", "", "")
    assert ann.erased_at is not None and ann.opted_out_at is not None
    assert ann.segment == "retail"
    assert Order.objects.filter(customer=ann).count() == 1
    assert Response.objects.filter(customer=ann).count() == 2
    assert changed["surveys_customer"] == 1
    assert changed["surveys_invitation"] == 2
    assert changed["surveys_answer"] == 3  # the comments of her two answers and the public one
    assert changed["mail folder"] >= 2


def test_a_longer_reference_of_someone_else_is_not_erased(ann):
    refusals = [
        [5, "customer_ref", f"No customer has the reference {REF}."],
        [6, "customer_ref", f"No customer has the reference {REF}0."],
    ]
    upload = OrderImport.objects.create(
        file_name="more.csv", status=OrderImport.Status.DONE, refusals=refusals
    )

    erase_customer(customer=ann)

    upload.refresh_from_db()
    assert upload.refusals == [[5, "customer_ref", ""], refusals[1]]


def test_the_old_invitation_link_leads_nowhere(client, ann):
    old_link = Invitation.objects.filter(customer=ann).first().get_absolute_url()

    erase_customer(customer=ann)

    assert client.get(old_link).status_code == 404


def test_an_unsent_message_to_the_customer_is_never_sent(ann):
    case = FollowUp.objects.get(response__customer=ann)
    Notification.objects.filter(followup=case).update(status="pending", attempts=0)

    erase_customer(customer=ann)

    assert set(Notification.objects.filter(followup=case).values_list("status", flat=True)) == {
        "cancelled"
    }


def test_the_case_page_no_longer_shows_the_person(client, agent, ann):
    case = FollowUp.objects.get(response__customer=ann)
    client.force_login(agent)
    assert NAME in client.get(reverse("metrics:followup", args=[case.pk])).content.decode()

    erase_customer(customer=ann)

    page = client.get(reverse("metrics:followup", args=[case.pk])).content.decode()
    assert not any(text in page for text in IDENTIFIERS)
    assert "This customer's personal data was erased on" in page
    assert "call me" not in page and "got a refund" not in page


def test_the_command_prints_each_table_and_a_summary(ann):
    out = StringIO()

    call_command("erase_customer", "--email", EMAIL.upper(), stdout=out)

    lines = out.getvalue().splitlines()
    assert "surveys_customer: 1" in lines
    assert "surveys_invitation: 2" in lines
    assert "django_admin_log: 1" in lines
    assert lines[-1].startswith("erased 1 customer: ")
    assert lines[-1].endswith("messages removed from the mail folder")
    assert Customer.objects.get(pk=ann.pk).erased_at is not None
    action = StaffAction.objects.get(action=StaffAction.Action.CUSTOMER_ERASED)
    assert (action.user, action.username, action.object_id) == (None, "", str(ann.pk))


def test_the_command_by_reference(ann):
    out = StringIO()
    call_command("erase_customer", "--ref", REF, stdout=out)
    assert out.getvalue().splitlines()[-1].startswith("erased 1 customer: ")
    assert Customer.objects.get(pk=ann.pk).email == ""


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--email", "nobody@example.com"], "No customer has the email address"),
        (["--ref", "NOPE"], "No customer has the reference 'NOPE'; nothing was changed."),
        (["--ref", " "], "No customer has the reference ''"),
        ([], "one of the arguments --email --ref is required"),
    ],
)
def test_the_command_refuses_what_finds_nobody(ann, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("erase_customer", *arguments, stdout=StringIO())

    assert Customer.objects.get(pk=ann.pk).email == EMAIL
    assert not StaffAction.objects.filter(action="customer_erased").exists()


def test_the_admin_asks_before_it_erases(admin_client, admin_user, ann, bob):
    changelist = reverse("admin:surveys_customer_changelist")
    chosen = {"action": "erase_customers", "_selected_action": [ann.pk]}

    confirm = admin_client.post(changelist, chosen)

    assert confirm.status_code == 200
    assert EMAIL in confirm.content.decode()
    dutch = admin_client.post(changelist, chosen, headers={"accept-language": "nl"})
    assert "De persoonsgegevens van deze klant worden overal gewist" in dutch.content.decode()
    assert Customer.objects.get(pk=ann.pk).email == EMAIL  # nothing yet

    done = admin_client.post(changelist, {**chosen, "confirmed": "yes"}, follow=True)

    assert "The personal data of 1 customer was erased." in done.content.decode()
    assert Customer.objects.get(pk=ann.pk).erased_at is not None
    assert Customer.objects.get(pk=bob.pk).email == "bob@example.com"
    action = StaffAction.objects.get(action=StaffAction.Action.CUSTOMER_ERASED)
    assert (action.user, action.object_id) == (admin_user, str(ann.pk))


def test_customers_are_erased_not_deleted_in_the_admin(admin_client, ann):
    assert (
        admin_client.get(reverse("admin:surveys_customer_delete", args=[ann.pk])).status_code == 403
    )
    page = admin_client.get(reverse("admin:surveys_customer_changelist")).content.decode()
    assert "erase_customers" in page and "delete_selected" not in page


def test_without_the_right_to_delete_customers_there_is_no_erasing(client, manager, ann):
    from django.contrib.auth.models import Permission

    manager.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(manager)
    changelist = reverse("admin:surveys_customer_changelist")

    page = client.get(changelist).content.decode()
    client.post(
        changelist, {"action": "erase_customers", "_selected_action": [ann.pk], "confirmed": "yes"}
    )

    assert "erase_customers" not in page
    assert Customer.objects.get(pk=ann.pk).email == EMAIL
