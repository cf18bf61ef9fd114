"""Dashboards read from the rollups, against reading the raw answers.

One NPS survey with 1,000,000 responses over the last year (and one with 100,000); all
figures for a one-year period. See bench/README.md.
"""

import random

from _common import median_time, migrate_and_flush, ms, seed, timed, verdict
from django.db.models import Count, F, Value
from django.db.models.functions import TruncDate

from metrics import dashboard, scoring
from metrics.periods import Period
from metrics.rollups import MEMBER_FIELDS, recompute_rollups
from surveys.models import Answer, Question, Response, Survey

SAMPLE = 20_000  # responses the Python loop reads; its time is scaled up linearly


def from_rollups(survey: Survey, period: Period) -> dashboard.Report:
    dashboard.cards([survey], period)
    return dashboard.report(survey, period)


def raw_counts(survey: Survey, period: Period, key: Question) -> dict[int, int]:
    """The headline counts in one SQL GROUP BY over the raw answers."""
    since, until = period.bounds()
    answers = Answer.objects.filter(
        response__survey=survey,
        question=key,
        value__isnull=False,
        response__submitted_at__gte=since,
        response__submitted_at__lt=until,
    )
    return dict(answers.values_list("value").annotate(n=Count("pk")).order_by())


def python_nps(survey: Survey, period: Period, key: Question, limit: int) -> float | None:
    """The NPS by a loop over responses and their answers, for the first `limit`."""
    since, until = period.bounds()
    responses = Response.objects.filter(
        survey=survey, submitted_at__gte=since, submitted_at__lt=until
    ).prefetch_related("answers")[:limit]
    counts: dict[int, int] = {}
    for response in responses.iterator(chunk_size=2000):
        for answer in response.answers.all():
            if answer.question_id == key.pk and answer.value is not None:
                counts[answer.value] = counts.get(answer.value, 0) + 1
    return scoring.nps(counts).value


def reads(survey: Survey, period: Period) -> float:
    """Time the three ways to the headline; returns (1), the time from the rollups."""
    key = next(q for q in survey.questions.all() if q.role == Question.Role.NPS)
    rollups = median_time(lambda: from_rollups(survey, period))
    sql = median_time(lambda: raw_counts(survey, period, key), runs=5)
    in_period = sum(raw_counts(survey, period, key).values())
    sample = timed(lambda: python_nps(survey, period, key, SAMPLE))
    loop = sample * in_period / SAMPLE
    print(f"(1) dashboard from the rollups (report + cards), median of 7: {ms(rollups)}")
    print(f"(2) one SQL GROUP BY over the raw answers, median of 5:       {ms(sql)}")
    print(
        f"(3) Python loop over responses: {SAMPLE:,} in {ms(sample)}, extrapolated "
        f"linearly to the {in_period:,} responses of the period: {loop:,.1f} s"
    )
    shown = from_rollups(survey, period).card.now.score.value
    counted = scoring.nps(raw_counts(survey, period, key)).value
    sampled = python_nps(survey, period, key, SAMPLE)
    print(f"NPS from the rollups {shown:.2f}, from SQL {counted:.2f}, sampled loop {sampled:.2f}")
    verdict("ratio (2)/(1)", sql / rollups, 10)
    verdict("ratio (3)/(1)", loop / rollups, 1000)
    return rollups


def grouped_counts(survey: Survey) -> int:
    """The bare GROUP BY queries a recompute needs: the survey's processed answers counted
    per question, day and value, once for all of them and once per member field of the
    responses; returns the number of cells."""
    answers = Answer.objects.filter(
        response__survey=survey, response__processed_at__isnull=False, value__isnull=False
    ).annotate(day=TruncDate("response__submitted_at"))
    members = [Value(""), *(F(f"response__{field}") for field in MEMBER_FIELDS.values())]
    return sum(
        len(
            answers.annotate(member=member)
            .values_list("question_id", "day", "member", "value")
            .annotate(count=Count("pk"))
            .order_by()
        )
        for member in members
    )


def recompute(survey: Survey) -> None:
    """The nightly recompute against the bare GROUP BY queries it needs."""
    full = median_time(lambda: recompute_rollups(surveys=[survey]), runs=3)
    bare = median_time(lambda: grouped_counts(survey), runs=3)
    print(f"recompute_rollups, median of 3: {full:.2f} s; its GROUP BYs alone: {bare:.2f} s")
    verdict("ratio recompute/GROUP BYs", full / bare, 2, at_most=True)


def main() -> None:
    migrate_and_flush()
    rng = random.Random(1)
    big = seed("nps", "Bench NPS 1M", 1_000_000, rng)
    small = seed("nps", "Bench NPS 100k", 100_000, rng)
    period = Period.last(365)
    print(f"\nAt 1,000,000 responses, period {period.start} to {period.end}:")
    at_1m = reads(big, period)
    print("\nAt 100,000 responses:")
    at_100k = median_time(lambda: from_rollups(small, period))
    print(f"(1) dashboard from the rollups, median of 7: {ms(at_100k)}")
    verdict("time(1M)/time(100k)", at_1m / at_100k, 1.5, at_most=True)
    print("\nRecompute at 1,000,000 responses:")
    recompute(big)


if __name__ == "__main__":
    main()
