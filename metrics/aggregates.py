"""A median of durations in SQL, the same on PostgreSQL and on SQLite.

PostgreSQL has `percentile_cont(0.5) WITHIN GROUP (ORDER BY ...)`. SQLite has no median,
so every SQLite connection gets a MEDIAN aggregate (metrics.receivers registers it, as
Django registers its own functions there) that computes what percentile_cont does.
"""

from typing import Any

from django.db.models import Aggregate, DurationField


class Median(Aggregate):
    """The median of a duration expression; NULLs are left out, and none gives NULL."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler, connection, function="MEDIAN", template="%(function)s(%(expressions)s)"
        )


def median_microseconds(values: list[int]) -> int | None:
    """The median as percentile_cont takes it of intervals: the middle value, or the
    lower middle plus half the gap to the upper one, rounded half to even to a whole
    microsecond."""
    if not values:
        return None
    ordered = sorted(values)
    middle, odd = divmod(len(ordered), 2)
    if odd:
        return ordered[middle]
    low, high = ordered[middle - 1], ordered[middle]
    return low + round((high - low) * 0.5)


class SqliteMedian:
    """MEDIAN(x) for SQLite, over durations as Django stores them there (microseconds)."""

    def __init__(self) -> None:
        self.values: list[int] = []

    def step(self, value: int | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> int | None:
        return median_microseconds(self.values)
