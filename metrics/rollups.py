"""ScoreRollup counts: added to per processed response, and rebuilt from raw answers."""

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction
from django.db.models import Count, F, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import TruncDate

from metrics.models import ScoreRollup
from surveys.models import Answer, Response, Survey

logger = logging.getLogger(__name__)

Dimension = ScoreRollup.Dimension
# (survey_id, question_id, day, dimension, member, value)
Cell = tuple[int, int, date, str, str, int]

# Where each dimension's member comes from, as a database expression over an answer;
# `members` says the same for one response in Python.
MEMBER_EXPRESSIONS: dict[str, Combinable] = {
    Dimension.ALL: Value(""),
    Dimension.SEGMENT: F("response__segment"),
    Dimension.TOUCHPOINT: F("response__touchpoint"),
    Dimension.CHANNEL: F("response__channel"),
}


def add(cells: Counter[Cell]) -> None:
    """Add to the counts: an atomic upsert, never read-modify-write."""
    _upsert(cells, "{table}.count + EXCLUDED.count")


COLUMNS = "survey_id, question_id, day, dimension, member, value, count"
# On PostgreSQL the rows travel as seven arrays: one short statement, however many
# rows, instead of a statement with a placeholder per value that psycopg must parse.
UNNEST = (
    "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::date[], %s::text[], %s::text[], "
    "%s::smallint[], %s::integer[])"
)


def _upsert(cells: Mapping[Cell, int], new_count: str, batch: int = 5000) -> None:
    table = ScoreRollup._meta.db_table
    rows = [(*cell, count) for cell, count in cells.items()]
    conflict = (
        "ON CONFLICT (question_id, dimension, member, day, value) "
        f"DO UPDATE SET count = {new_count.format(table=table)}"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if rows:
                columns = [list(column) for column in zip(*rows, strict=True)]
                cursor.execute(f"INSERT INTO {table} ({COLUMNS}) {UNNEST} {conflict}", columns)
            return
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({COLUMNS}) VALUES {placeholders} {conflict}",  # noqa: S608
                [field for row in chunk for field in row],
            )


def members(response: Response) -> dict[str, str]:
    return {
        Dimension.ALL: "",
        Dimension.SEGMENT: response.segment,
        Dimension.TOUCHPOINT: response.touchpoint,
        Dimension.CHANNEL: response.channel,
    }


@dataclass(frozen=True)
class Drift:
    cells: int  # rollup cells that were wrong, missing or superfluous
    answers: int  # the sum of their differences, in answers

    def __bool__(self) -> bool:
        return self.cells > 0


def fresh_counts(surveys: Sequence[Survey], dimension: str) -> Counter[Cell]:
    """The rollup cells of one dimension, counted from the raw answers with GROUP BY.

    One query for all the surveys: each scans the answers once, whatever their number.
    """
    answers = Answer.objects.filter(
        response__survey__in=surveys, response__processed_at__isnull=False, value__isnull=False
    )
    grouped = (
        answers.annotate(
            day=TruncDate("response__submitted_at"), member=MEMBER_EXPRESSIONS[dimension]
        )
        .values_list("response__survey_id", "question_id", "day", "member", "value")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return Counter({(s, q, day, dimension, m, v): n for s, q, day, m, v, n in grouped})


@transaction.atomic
def recompute_rollups(
    *, surveys: Sequence[Survey], progress: Callable[[str], None] | None = None
) -> Drift:
    """Rebuild surveys' rollups from their processed answers; returns what was corrected.

    Only differing cells are written, so a survey without drift costs little more than
    its GROUP BY queries.
    """
    if connection.vendor == "postgresql":
        # Hold off increments until this commits: an answer processed while the counts
        # were being taken would otherwise be overwritten and lost.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {ScoreRollup._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
    fresh: Counter[Cell] = Counter()
    for step, dimension in enumerate(Dimension.values, start=1):
        fresh.update(fresh_counts(surveys, dimension))
        if progress:
            progress(f"counted {dimension} ({step}/{len(Dimension.values)})")
    rows = ScoreRollup.objects.filter(survey__in=surveys).values_list(
        "pk", "survey_id", "question_id", "day", "dimension", "member", "value", "count"
    )
    stored = {(s, q, day, dim, m, v): (pk, n) for pk, s, q, day, dim, m, v, n in rows}
    wrong = {cell: n for cell, n in fresh.items() if stored.get(cell, (None, 0))[1] != n}
    extra = {cell: stored_n for cell, (_, stored_n) in stored.items() if cell not in fresh}
    _upsert(wrong, "EXCLUDED.count")
    ScoreRollup.objects.filter(pk__in=[stored[cell][0] for cell in extra]).delete()
    return Drift(
        cells=len(wrong) + len(extra),
        answers=sum(abs(n - stored.get(cell, (None, 0))[1]) for cell, n in wrong.items())
        + sum(extra.values()),
    )
