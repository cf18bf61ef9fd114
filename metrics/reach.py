"""How many of the survey emails sent were answered: per survey and per send.

Opens are not counted: that takes a tracking image, a GET that records something.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from metrics.scoring import response_rate
from surveys.models import Invitation, Mailing, Survey

SENDS_SHOWN = 10

SENT = Q(sent_at__isnull=False)
ANSWERED = Q(sent_at__isnull=False, responded_at__isnull=False)


@dataclass(frozen=True)
class Rate:
    sent: int
    answered: int
    when: datetime | None = None
    source: str = ""

    @property
    def percent(self) -> float | None:
        return response_rate(self.answered, self.sent)


@dataclass(frozen=True)
class Rates:
    overall: Rate
    sends: list[Rate]


def response_rates(survey: Survey) -> Rates:
    """The survey's response rate overall and for its latest sends, in one query."""
    per_send = (
        Invitation.objects.filter(SENT, survey=survey)
        .values("mailing__created_at", "mailing__source")
        .annotate(sent=Count("pk"), answered=Count("pk", filter=ANSWERED))
        .order_by(F("mailing__created_at").desc(nulls_last=True))
    )
    sends = [
        Rate(
            row["sent"],
            row["answered"],
            row["mailing__created_at"],
            str(Mailing.Source(row["mailing__source"]).label) if row["mailing__source"] else "",
        )
        for row in per_send
    ]
    overall = Rate(sum(s.sent for s in sends), sum(s.answered for s in sends))
    return Rates(overall, sends[:SENDS_SHOWN])


def with_response_counts(queryset: QuerySet, key: str) -> QuerySet:
    """Each survey or send (`key`: "survey" or "mailing") with `_sent` and `_answered`,
    its invitations counted in subqueries so that other counts are not multiplied."""

    def count(condition: Q) -> Coalesce:
        own = Invitation.objects.filter(condition, **{key: OuterRef("pk")}).order_by()
        counted = own.values(key).annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    return queryset.annotate(_sent=count(SENT), _answered=count(ANSWERED))
