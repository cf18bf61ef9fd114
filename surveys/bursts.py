"""Suspicious bursts: many answers to one survey from one client on one day.

A fingerprint is one client's (address and browser) for one day only, so a fingerprint's
answers are what one client sent on one day. A person answers once or twice; staff look
at the bursts and may exclude one from the scores (services.exclude_burst).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Min, Q

from surveys.models import Response, Survey

# Answers from one client on one day that make a burst worth a look.
BURST_MIN_RESPONSES = 5
# The most bursts listed, latest first.
BURSTS_SHOWN = 100


@dataclass(frozen=True)
class Burst:
    fingerprint: str
    responses: int
    excluded: int
    first_at: datetime
    last_at: datetime

    @property
    def is_excluded(self) -> bool:
        return self.excluded == self.responses

    @property
    def within_a_minute(self) -> bool:
        return (self.last_at - self.first_at).total_seconds() <= 60


def bursts(survey: Survey, *, min_responses: int = BURST_MIN_RESPONSES) -> list[Burst]:
    """The survey's bursts of `min_responses` or more answers from one fingerprint."""
    rows = (
        Response.objects.filter(survey=survey)
        .exclude(fingerprint="")
        .values("fingerprint")
        .annotate(
            responses=Count("pk"),
            excluded=Count("pk", filter=Q(excluded_at__isnull=False)),
            first_at=Min("submitted_at"),
            last_at=Max("submitted_at"),
        )
        .filter(responses__gte=min_responses)
        .order_by("-last_at")[:BURSTS_SHOWN]
    )
    return [Burst(**row) for row in rows]
