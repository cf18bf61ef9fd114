"""Repeating surveys: who is invited again, when, and spread over the send window."""

from datetime import date, datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from metrics import recurring, sending
from metrics.models import Notification
from surveys.models import Invitation, Mailing
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory

pytestmark = pytest.mark.django_db


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def test_months_before_keeps_the_day_or_takes_the_last_of_the_month():
    moment = _local(date(2026, 3, 31), 10)
    assert recurring.months_before(moment, 1) == _local(date(2026, 2, 28), 10)
    assert recurring.months_before(moment, 3) == _local(date(2025, 12, 31), 10)
    assert recurring.months_before(moment, 14) == _local(date(2025, 1, 31), 10)


@pytest.mark.parametrize(
    ("now", "window"),
    [
        # A Wednesday inside the window: the rest of it.
        (
            _local(date(2026, 12, 2), 10, 15),
            (_local(date(2026, 12, 2), 10, 15), _local(date(2026, 12, 2), 11)),
        ),
        # A Wednesday before it: all of it.
        (
            _local(date(2026, 12, 2), 7),
            (_local(date(2026, 12, 2), 9), _local(date(2026, 12, 2), 11)),
        ),
        # Friday after it, and Saturday: Monday's.
        (
            _local(date(2026, 12, 4), 12),
            (_local(date(2026, 12, 7), 9), _local(date(2026, 12, 7), 11)),
        ),
        (
            _local(date(2026, 12, 5), 10),
            (_local(date(2026, 12, 7), 9), _local(date(2026, 12, 7), 11)),
        ),
    ],
)
def test_the_send_window_is_on_weekdays_between_its_hours(now, window):
    assert recurring.send_window(SurveyFactory(), now) == window


def _invited(survey, days_ago, **customer):
    invitation = InvitationFactory(survey=survey, customer=CustomerFactory(**customer))
    when = timezone.now() - timedelta(days=days_ago)
    Invitation.objects.filter(pk=invitation.pk).update(created_at=when, sent_at=when)
    return invitation.customer


def test_the_schedule_invites_those_due_and_spreads_their_emails_over_the_window(
    eager_celery, django_capture_on_commit_callbacks
):
    survey = SurveyFactory(
        repeat_every_months=3,
        repeat_segment="b2b",
        new_customer_delay_days=14,
        resurvey_throttle_days=30,
    )
    long_ago = _invited(survey, 130, segment="b2b", ref="long-ago")
    _invited(survey, 60, segment="b2b", ref="recent")
    CustomerFactory(segment="b2b", ref="new")  # joined today: not yet
    settled = CustomerFactory(segment="b2b", ref="settled")
    settled.created_at = timezone.now() - timedelta(days=20)
    settled.save()
    since_long = CustomerFactory(segment="b2b", ref="since", customer_since=date(2020, 1, 1))
    CustomerFactory(segment="b2c", ref="other-segment", customer_since=date(2020, 1, 1))
    CustomerFactory(
        segment="b2b", ref="left", customer_since=date(2020, 1, 1), customer_until=date(2021, 1, 1)
    )
    elsewhere = _invited(SurveyFactory(), 10, segment="b2b", customer_since=date(2020, 1, 1))

    with django_capture_on_commit_callbacks(execute=True):
        assert recurring.schedule() == 3

    invited = Invitation.objects.filter(survey=survey, mailing__source=Mailing.Source.SCHEDULE)
    assert {i.customer.ref for i in invited} == {long_ago.ref, settled.ref, since_long.ref}
    assert not Invitation.objects.filter(customer=elsewhere, survey=survey).exists()
    start, end = recurring.send_window(survey, timezone.now())
    due = sorted(Notification.objects.values_list("next_attempt_at", flat=True))
    assert due[0] == start and all(start <= moment < end for moment in due)
    assert all(
        timezone.localtime(m).weekday() < 5 and 9 <= timezone.localtime(m).hour < 11 for m in due
    )
    # Nothing goes out before its time; everything by the window's end.
    if start > timezone.now():
        assert sending.dispatch() == 0
    assert sending.dispatch(now=end) == 3
    assert len(mail.outbox) == 3

    with django_capture_on_commit_callbacks(execute=True):
        assert recurring.schedule() == 0
    assert Mailing.objects.filter(source=Mailing.Source.SCHEDULE).count() == 1


def test_a_survey_that_does_not_repeat_is_left_alone():
    SurveyFactory()
    CustomerFactory(customer_since=date(2020, 1, 1))

    assert recurring.schedule() == 0
    assert not Invitation.objects.exists()
