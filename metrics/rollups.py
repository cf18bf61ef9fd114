"""ScoreRollup counts: added to per processed response, and rebuilt from raw answers."""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import TruncDate

from metrics.models import RollupDrift, ScoreRollup
from surveys.models import Answer, Response, Survey

Dimension = ScoreRollup.Dimension
# (survey_id, question_id, day, dimension, member, value)
Cell = tuple[int, int, date, str, str, int]

# The response field whose value is each dimension's member; "all" has one member, "".
MEMBER_FIELDS = {
    Dimension.SEGMENT: "segment",
    Dimension.TOUCHPOINT: "touchpoint",
    Dimension.CHANNEL: "channel",
}

TABLE = ScoreRollup._meta.db_table
COLUMNS = "survey_id, question_id, day, dimension, member, value, count"
# The columns of the unique constraint rollup_one_cell, and a match on them.
CELL = "question_id, dimension, member, day, value"
SAME_CELL = " AND ".join(f"{TABLE}.{c} = fresh.{c}" for c in CELL.split(", "))


def members(response: Response) -> dict[str, str]:
    return {
        Dimension.ALL: "",
        **{dimension: getattr(response, field) for dimension, field in MEMBER_FIELDS.items()},
    }


def add(cells: Counter[Cell]) -> None:
    """Add to the counts: an atomic upsert, never read-modify-write."""
    if not cells:
        return
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(cells))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} ({COLUMNS}) VALUES {rows} "  # noqa: S608 - no input in it
            f"ON CONFLICT ({CELL}) DO UPDATE SET count = {TABLE}.count + EXCLUDED.count",
            [field for cell, count in cells.items() for field in (*cell, count)],
        )


@dataclass(frozen=True)
class Drift:
    cells: int  # rollup cells that were wrong, missing or superfluous
    answers: int  # the sum of their differences, in answers

    def __bool__(self) -> bool:
        return self.cells > 0


def _read_answers_sql(surveys: Sequence[Survey]) -> tuple[str, Sequence[Any]]:
    """A temporary table of the surveys' counted answers, each with its day and members:
    the raw answers are joined to their responses once, however many dimensions."""
    answers = (
        Answer.objects.filter(
            response__survey__in=surveys,
            response__processed_at__isnull=False,
            response__excluded_at__isnull=True,
            value__isnull=False,
        )
        .annotate(
            survey=F("response__survey_id"),
            day=TruncDate("response__submitted_at"),
            **{field: F(f"response__{field}") for field in MEMBER_FIELDS.values()},
        )
        .values("survey", "question_id", "day", "value", *MEMBER_FIELDS.values())
        .order_by()
    )
    sql, params = answers.query.sql_with_params()
    columns = ", ".join(
        ["survey AS survey_id", "question_id", "day", "value", *MEMBER_FIELDS.values()]
    )
    create = f"CREATE TEMPORARY TABLE rollup_answers AS SELECT {columns} FROM ({sql}) answers"  # noqa: S608
    return create, params


def _count_sql() -> str:
    """A temporary table of the rollup cells counted from rollup_answers, every dimension."""
    grouped = [
        "SELECT survey_id, question_id, day, %s AS dimension, '' AS member, value, "
        "COUNT(*) AS count FROM rollup_answers GROUP BY survey_id, question_id, day, value"
    ]
    grouped += [
        f"SELECT survey_id, question_id, day, %s, {field}, value, COUNT(*) "  # noqa: S608
        f"FROM rollup_answers GROUP BY survey_id, question_id, day, {field}, value"
        for field in MEMBER_FIELDS.values()
    ]
    return "CREATE TEMPORARY TABLE rollup_fresh AS " + " UNION ALL ".join(grouped)


# Compare and correct in the database: a million answers' cells never travel to Python.
WRONG_OR_MISSING = f"""
SELECT COUNT(*), COALESCE(SUM(ABS(fresh.count - COALESCE({TABLE}.count, 0))), 0)
  FROM rollup_fresh fresh LEFT JOIN {TABLE} ON {SAME_CELL}
 WHERE {TABLE}.count IS NULL OR {TABLE}.count <> fresh.count"""  # noqa: S608
# The stored cells of the surveys that the answers no longer give: counted, then deleted.
SUPERFLUOUS = f"""
FROM {TABLE} WHERE survey_id IN ({{surveys}})
   AND NOT EXISTS (SELECT 1 FROM rollup_fresh fresh WHERE {SAME_CELL})"""  # noqa: S608
UPDATE_WRONG = f"""
UPDATE {TABLE} SET count = fresh.count FROM rollup_fresh fresh
 WHERE {SAME_CELL} AND {TABLE}.count <> fresh.count"""  # noqa: S608
# A plain INSERT: cheaper than an upsert, and the lock keeps others from adding the cells.
INSERT_MISSING = f"""
INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM rollup_fresh fresh
 WHERE NOT EXISTS (SELECT 1 FROM {TABLE} WHERE {SAME_CELL})"""  # noqa: S608


@transaction.atomic
def recompute_rollups(
    *, surveys: Sequence[Survey], progress: Callable[[str], None] | None = None
) -> Drift:
    """Rebuild surveys' rollups from their processed answers that staff did not exclude;
    returns what was corrected.

    Only differing cells are written, so a survey without drift costs little more than
    counting its answers.
    """

    def step(line: str) -> None:
        if progress:
            progress(line)

    survey_ids = [survey.pk for survey in surveys]
    if not survey_ids:
        return Drift(cells=0, answers=0)
    in_surveys = ", ".join(["%s"] * len(survey_ids))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Hold off increments until this commits: an answer processed while the counts
            # were being taken would otherwise be overwritten and lost.
            cursor.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")
            # A year of answers' counts is sorted and hashed in memory, not on disk.
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(*_read_answers_sql(surveys))
        step("read the answers (1/3)")
        cursor.execute(_count_sql(), [str(d) for d in [Dimension.ALL, *MEMBER_FIELDS]])
        step("counted them per day, segment, touchpoint and channel (2/3)")
        cursor.execute(WRONG_OR_MISSING)
        wrong, wrong_answers = cursor.fetchone()
        superfluous = SUPERFLUOUS.format(surveys=in_surveys)
        cursor.execute(f"SELECT COUNT(*), COALESCE(SUM(count), 0) {superfluous}", survey_ids)
        extra, extra_answers = cursor.fetchone()
        if extra:
            cursor.execute(f"DELETE {superfluous}", survey_ids)
        if wrong:
            cursor.execute(UPDATE_WRONG)
            cursor.execute(INSERT_MISSING)
        cursor.execute("DROP TABLE rollup_answers")
        cursor.execute("DROP TABLE rollup_fresh")
        step("compared with the stored counts and corrected them (3/3)")
    return Drift(cells=wrong + extra, answers=int(wrong_answers) + int(extra_answers))


@transaction.atomic
def recompute_survey(*, survey: Survey, progress: Callable[[str], None] | None = None) -> Drift:
    """Rebuild one survey's rollups, and keep what was found wrong for staff to see."""
    drift = recompute_rollups(surveys=[survey], progress=progress)
    if drift:
        RollupDrift.objects.create(survey=survey, cells=drift.cells, answers=drift.answers)
    return drift
