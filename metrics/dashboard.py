"""What the dashboards show, read from the rollups with a fixed number of queries."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, DateField, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Trunc
from django.utils import timezone
from django.utils.formats import date_format

from metrics.charts import BarChart, LineChart, bar_chart, line_chart
from metrics.followups import rule_for
from metrics.models import ScoreRollup
from metrics.periods import Period
from metrics.scores import KEY_ROLE, Headline, change, headline, tone
from metrics.scoring import is_small_sample
from surveys.models import Answer, Question, Response, Survey, shown_name

Dimension = ScoreRollup.Dimension
BREAKDOWNS = [Dimension.TOUCHPOINT, Dimension.CHANNEL, Dimension.SEGMENT]


def _is_yes_no(survey: Survey) -> bool:
    return any(q.is_yes_no for q in survey.questions.all())


def _headline(survey: Survey, counts: Mapping[int, Counter[int]]) -> Headline:
    """The headline from counts per question id (the survey's questions are prefetched)."""
    by_role = {q.role: counts.get(q.pk, Counter()) for q in survey.questions.all()}
    return headline(survey.kind, by_role, yes_no=_is_yes_no(survey))


@dataclass(frozen=True)
class Waiting:
    """Answers saved but not yet counted (processed_at is NULL): no score includes them."""

    count: int = 0
    since: datetime | None = None  # when the oldest of them was submitted

    @property
    def since_iso(self) -> str | None:
        """`since` in local time as ISO 8601, for machines: JSON and the command line."""
        if self.since is None:
            return None
        return timezone.localtime(self.since).isoformat(timespec="seconds")


def waiting(surveys: Iterable[Survey], period: Period | None = None) -> dict[int, Waiting]:
    """Per survey id, its answers (of the period, if one is given) still to be processed.

    One query, on the partial index of unprocessed responses: there are few of them.
    """
    found = Response.objects.filter(survey__in=list(surveys), processed_at__isnull=True)
    if period is not None:
        since, until = period.bounds()
        found = found.filter(submitted_at__gte=since, submitted_at__lt=until)
    rows = (
        found.values_list("survey_id")
        .annotate(count=Count("pk"), since=Min("submitted_at"))
        .order_by()
    )
    return {survey_id: Waiting(count, since) for survey_id, count, since in rows}


@dataclass(frozen=True)
class Card:
    survey: Survey
    now: Headline
    before: Headline
    waiting: Waiting = Waiting()

    @property
    def change(self) -> float | None:
        return change(self.now.score, self.before.score)


def cards(surveys: Iterable[Survey], period: Period) -> list[Card]:
    """One card per survey: its headline in the period and in the period before."""
    surveys = list(surveys)
    previous = period.previous()
    rows = (
        ScoreRollup.objects.filter(
            survey__in=surveys, dimension=Dimension.ALL, day__range=(previous.start, period.end)
        )
        .values_list("survey_id", "question_id", "value")
        .annotate(
            now=Sum("count", filter=Q(day__gte=period.start)),
            before=Sum("count", filter=Q(day__lt=period.start)),
        )
        .order_by()
    )
    now: dict[int, dict[int, Counter[int]]] = defaultdict(lambda: defaultdict(Counter))
    before: dict[int, dict[int, Counter[int]]] = defaultdict(lambda: defaultdict(Counter))
    for survey_id, question_id, value, in_period, in_previous in rows:
        now[survey_id][question_id][value] += in_period or 0
        before[survey_id][question_id][value] += in_previous or 0
    unprocessed = waiting(surveys, period)
    return [
        Card(
            s, _headline(s, now[s.pk]), _headline(s, before[s.pk]), unprocessed.get(s.pk, Waiting())
        )
        for s in surveys
    ]


def all_time(survey: Survey) -> Headline:
    rows = (
        ScoreRollup.objects.filter(survey=survey, dimension=Dimension.ALL)
        .values_list("question_id", "value")
        .annotate(total=Sum("count"))
        .order_by()
    )
    counts: dict[int, Counter[int]] = defaultdict(Counter)
    for question_id, value, total in rows:
        counts[question_id][value] += total
    return _headline(survey, counts)


@dataclass(frozen=True)
class Point:
    start: date
    headline: Headline


def trend(survey: Survey, period: Period) -> list[Point]:
    """The headline per week or month of the period; buckets without answers included."""
    rows = (
        ScoreRollup.objects.filter(
            survey=survey, dimension=Dimension.ALL, day__range=(period.start, period.end)
        )
        .annotate(bucket=Trunc("day", period.bucket, output_field=DateField()))
        .values_list("bucket", "question_id", "value")
        .annotate(total=Sum("count"))
        .order_by()
    )
    counts: dict[date, dict[int, Counter[int]]] = defaultdict(lambda: defaultdict(Counter))
    for bucket, question_id, value, total in rows:
        counts[bucket][question_id][value] += total
    return [Point(start, _headline(survey, counts[start])) for start in buckets(period)]


def buckets(period: Period) -> list[date]:
    """The first day of each week (Monday) or month that the period touches."""
    if period.bucket == "week":
        first = period.start - timedelta(days=period.start.weekday())
        return [first + timedelta(weeks=i) for i in range((period.end - first).days // 7 + 1)]
    months, current = [], period.start.replace(day=1)
    while current <= period.end:
        months.append(current)
        current = (current + timedelta(days=32)).replace(day=1)
    return months


@dataclass(frozen=True)
class Slice:
    dimension: str
    member: str
    headline: Headline

    @property
    def label(self) -> str:
        """The member as staff read it: the touchpoints and channels the survey does not
        know are counted together as OTHER, shown in their language."""
        return shown_name(self.member)


def breakdown(survey: Survey, period: Period) -> dict[str, list[Slice]]:
    """The headline per touchpoint, channel and segment, largest first."""
    rows = (
        ScoreRollup.objects.filter(
            survey=survey, dimension__in=BREAKDOWNS, day__range=(period.start, period.end)
        )
        .values_list("dimension", "member", "question_id", "value")
        .annotate(total=Sum("count"))
        .order_by()
    )
    counts: dict[tuple[str, str], dict[int, Counter[int]]] = defaultdict(
        lambda: defaultdict(Counter)
    )
    for dimension, member, question_id, value, total in rows:
        counts[dimension, member][question_id][value] += total
    slices: dict[str, list[Slice]] = {dimension: [] for dimension in BREAKDOWNS}
    for (dimension, member), by_question in counts.items():
        slices[dimension].append(Slice(dimension, member, _headline(survey, by_question)))
    for dimension_slices in slices.values():
        dimension_slices.sort(key=lambda s: (-s.headline.score.n, s.member))
    return slices


def distribution(survey: Survey, period: Period) -> list[tuple[int, int]]:
    """How often each value of the key question was chosen in the period."""
    key = next(q for q in survey.questions.all() if q.role == KEY_ROLE[survey.kind])
    rows = dict(
        ScoreRollup.objects.filter(
            question=key, dimension=Dimension.ALL, day__range=(period.start, period.end)
        )
        .values_list("value")
        .annotate(total=Sum("count"))
        .order_by()
    )
    return [(value, rows.get(value, 0)) for value in key.scale_values]


def comments(
    survey: Survey, period: Period, *, only_unhappy: bool = False, limit: int = 20
) -> QuerySet[Answer]:
    """The latest comments of the period, each with the key question's answer as `score`."""
    key_role = KEY_ROLE[survey.kind]
    score = Answer.objects.filter(response=OuterRef("response"), question__role=key_role)
    since, until = period.bounds()
    found = (
        Answer.objects.filter(
            response__survey=survey,
            question__role=Question.Role.COMMENT,
            response__submitted_at__gte=since,
            response__submitted_at__lt=until,
            response__excluded_at__isnull=True,
        )
        .annotate(score=Subquery(score.values("value")[:1]))
        .select_related("response")
        .order_by("-response__submitted_at", "-pk")
    )
    if only_unhappy:
        found = found.filter(score__lte=rule_for(survey, _is_yes_no(survey)).threshold)
    return found[:limit]


# The fixed scale of each kind of headline: (low, high, tick step).
SCALES = {"nps": (-100, 100, 50), "percent": (0, 100, 25), "mean7": (1, 7, 1), "mean10": (1, 10, 3)}


@dataclass(frozen=True)
class Report:
    """Everything the survey page shows."""

    card: Card
    trend: list[Point]
    trend_chart: LineChart
    distribution: list[tuple[int, int]]
    distribution_chart: BarChart
    breakdown: dict[str, list[Slice]]
    comments: list[Answer]


def report(survey: Survey, period: Period, *, only_unhappy: bool = False) -> Report:
    card = cards([survey], period)[0]
    points = trend(survey, period)
    low, high, step = SCALES[card.now.unit]
    label = "MONTH_DAY_FORMAT" if period.bucket == "week" else "YEAR_MONTH_FORMAT"
    spread = distribution(survey, period)
    yes_no = _is_yes_no(survey)
    threshold = rule_for(survey, yes_no).threshold
    return Report(
        card=card,
        trend=points,
        trend_chart=line_chart(
            [(date_format(p.start, label), p.headline.score.value) for p in points],
            low,
            high,
            step,
            counts=[p.headline.score.n for p in points],
        ),
        distribution=spread,
        distribution_chart=bar_chart(
            [
                (str(value), count, tone(survey.kind, value, yes_no, threshold))
                for value, count in spread
            ]
        ),
        breakdown=breakdown(survey, period),
        comments=list(comments(survey, period, only_unhappy=only_unhappy)),
    )


def headline_json(survey: Survey, period: Period | None) -> dict[str, object]:
    """The headline as plain data: over all its answers (period None), as `manage.py
    scores --json` gives it, or of a period, as its dashboard card shows it."""
    if period is None:
        unprocessed = waiting([survey]).get(survey.pk, Waiting())
        return as_json(survey, all_time(survey), None, unprocessed)
    card = cards([survey], period)[0]
    return as_json(survey, card.now, period, card.waiting)


def as_json(
    survey: Survey, shown: Headline, period: Period | None, waiting: Waiting
) -> dict[str, object]:
    """The headline as plain data, for `manage.py scores --json` and the JSON URL."""
    score = shown.score
    return {
        "survey": survey.name,
        "slug": survey.slug,
        "kind": survey.kind,
        "value": None if score.value is None else round(score.value, 2),
        "margin": None if shown.margin is None else round(shown.margin, 2),
        "n": score.n,
        "band": shown.band,
        "small_sample": is_small_sample(score.n),
        "period": None if period is None else {"start": period.start, "end": period.end},
        "waiting": {"count": waiting.count, "since": waiting.since_iso},
    }
