"""Repeating surveys: each eligible customer is invited again every N months.

The scheduler runs every quarter of an hour. A customer is eligible when their last
invitation to the survey is older than its `repeat_every_months`, or, never invited to
it, once they have been a customer for `new_customer_delay_days`. The invite service then
applies the rules against over-surveying, and the emails are spread over the current or
next send window (weekdays, by default 9:00-11:00 in TIME_ZONE).
"""

from calendar import monthrange
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from metrics import sending
from surveys.models import Customer, Invitation, Mailing, Survey


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` earlier, or that month's last day."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def send_window(survey: Survey, now: datetime) -> tuple[datetime, datetime]:
    """The rest of the send window open now, else the next one (weekdays only)."""
    today = timezone.localtime(now).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        start, end = _at(day, survey.send_window_start), _at(day, survey.send_window_end)
        if end > now:
            return max(start, now), end
    raise AssertionError("a week has weekdays")


def _at(day: date, moment: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, moment))


def eligible(survey: Survey, now: datetime) -> QuerySet[Customer]:
    if survey.repeat_every_months is None:
        return Customer.objects.none()
    last_here = Invitation.objects.filter(survey=survey, customer=OuterRef("pk")).order_by(
        "-created_at"
    )
    joined = now - timedelta(days=survey.new_customer_delay_days)
    customers = Customer.objects.filter(
        Q(customer_until__isnull=True) | Q(customer_until__gt=timezone.localdate(now))
    )
    if survey.repeat_segment:
        customers = customers.filter(segment=survey.repeat_segment)
    return customers.annotate(last_here=Subquery(last_here.values("created_at")[:1])).filter(
        Q(last_here__lt=months_before(now, survey.repeat_every_months))
        | Q(last_here__isnull=True, customer_since__lte=timezone.localdate(joined))
        | Q(last_here__isnull=True, customer_since__isnull=True, created_at__lte=joined)
    )


def schedule(now: datetime | None = None) -> int:
    """Invite the eligible customers of every live repeating survey; returns how many."""
    now = now or timezone.now()
    count = 0
    repeating = Survey.objects.filter(status=Survey.Status.LIVE, repeat_every_months__isnull=False)
    for survey in repeating.prefetch_related("questions"):
        customers = eligible(survey, now)
        if not customers.exists():
            continue
        count += _invite(survey, customers, now)
    return count


@transaction.atomic
def _invite(survey: Survey, customers: QuerySet[Customer], now: datetime) -> int:
    """Invite them as part of the day's scheduled send of the survey."""
    day_started = _at(timezone.localdate(now), time(0))
    today = Mailing.objects.filter(
        survey=survey, source=Mailing.Source.SCHEDULE, created_at__gte=day_started
    ).first()
    mailing = today or Mailing.objects.create(
        survey=survey, source=Mailing.Source.SCHEDULE, segment=survey.repeat_segment
    )
    sent = sending.send_survey(
        survey=survey, customers=customers, mailing=mailing, window=send_window(survey, now)
    )
    if today is None and not sent.invitations:
        mailing.delete()  # everyone was skipped: no send to show
    return len(sent.invitations)
