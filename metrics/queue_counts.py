"""The queue's counts per filter option, without counting every case on every view.

QueueCount holds numbers of cases per status, survey, reason and assignee, as rows that
are only ever added: a case's save adds -1 to the combination its row had and +1 to the
one it has now (metrics.receivers), a deleted case -1 to its own, so concurrent changes
never lock a shared counter. The counts are their sums. Whether an open case is overdue
or due soon changes with the clock, so that is read from the cases themselves, and only
from those not yet due: open cases are overdue unless due later, and few are (a case is
due a day or so after it opens). `recompute` folds the rows into one per combination,
counted from the cases, and says how many combinations were off: the nightly job runs
it, and so must anything that writes cases in bulk, past the receivers.
"""

import logging
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, Sum

from metrics.followups import REMIND_BEFORE
from metrics.models import FollowUp, QueueCount

log = logging.getLogger(__name__)

Key = tuple[str, int, str, int]  # status, survey, reason, assignee (0: unassigned)
# The fields of a case its combination is made of.
FIELDS = {"status", "survey", "survey_id", "reason", "assignee", "assignee_id"}
OPEN = ~Q(status=FollowUp.Status.RESOLVED)
# "Due soon": open and due within this time, the same as the assignee's reminder.
DUE_SOON = REMIND_BEFORE
COLUMNS = ("status", "survey_key", "reason", "assignee_key")


def key_of(values: dict[str, Any]) -> Key | None:
    """A case's combination from its fields; None when some were not loaded."""
    try:
        return (
            values["status"],
            values["survey_id"],
            values["reason"],
            values["assignee_id"] or 0,
        )
    except KeyError:
        return None


def stored_key(pk: int) -> Key | None:
    """The combination of the case as its row holds it now; None when there is no row."""
    row = FollowUp.objects.filter(pk=pk).values_list("status", "survey_id", "reason", "assignee_id")
    found = row.first()
    return None if found is None else (found[0], found[1], found[2], found[3] or 0)


def _row(key: Key, cases: int) -> QueueCount:
    status, survey, reason, assignee = key
    return QueueCount(
        status=status, survey_key=survey, reason=reason, assignee_key=assignee, cases=cases
    )


def add(key: Key, cases: int) -> None:
    """`cases` more (or, negative, fewer) cases in `key`'s combination."""
    _row(key, cases).save()


def moved(old: Key | None, new: Key) -> None:
    """A case left `old` (None: it is new) for `new`, in one statement."""
    if old == new:
        return
    QueueCount.objects.bulk_create([_row(new, 1), *([_row(old, -1)] if old else [])])


def unassign(user_pk: int) -> None:
    """A deleted user's cases stay, unassigned: so do their counts."""
    theirs = QueueCount.objects.filter(assignee_key=user_pk).values_list(
        "status", "survey_key", "reason"
    )
    sums = list(theirs.annotate(n=Sum("cases")).order_by())
    QueueCount.objects.bulk_create(
        [_row((s, survey, r, 0), n) for s, survey, r, n in sums]
        + [_row((s, survey, r, user_pk), -n) for s, survey, r, n in sums]
    )


def _sums() -> dict[Key, int]:
    rows = QueueCount.objects.values_list(*COLUMNS).annotate(n=Sum("cases")).order_by()
    return {(s, survey, r, a): n for s, survey, r, a, n in rows if n}


@transaction.atomic
def recompute() -> int:
    """Count every case again and keep one row per combination; returns the number of
    combinations whose sum was off."""
    if connection.vendor == "postgresql":
        # Changes to cases wait (their rows would come in between), reading does not.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {QueueCount._meta.db_table} IN EXCLUSIVE MODE")
    cases = FollowUp.objects.values_list("status", "survey_id", "reason", "assignee_id")
    counted = {
        (s, survey, r, a or 0): n for s, survey, r, a, n in cases.annotate(n=Count("pk")).order_by()
    }
    summed = _sums()
    wrong = sum(counted.get(key, 0) != summed.get(key, 0) for key in counted.keys() | summed.keys())
    QueueCount.objects.all().delete()
    QueueCount.objects.bulk_create(_row(key, n) for key, n in counted.items())
    if wrong:
        log.warning("Queue counts: %d combinations were off and are corrected.", wrong)
    return wrong


def due_buckets(now: datetime) -> dict[str, ExpressionWrapper]:
    """Whether a case is due before now, or soon (within DUE_SOON): what the queue's "Due"
    filter selects by, and how `groups` splits the open cases."""
    return {
        "overdue": ExpressionWrapper(Q(due_at__lt=now), output_field=BooleanField()),
        "soon": ExpressionWrapper(
            Q(due_at__gte=now, due_at__lte=now + DUE_SOON), output_field=BooleanField()
        ),
    }


def groups(now: datetime) -> list[dict[str, Any]]:
    """The cases per status, survey, reason, assignee and whether overdue or due soon,
    as `metrics.followup_views._facets` counts them."""
    not_due = (
        FollowUp.objects.filter(OPEN, due_at__gte=now)
        .annotate(soon=due_buckets(now)["soon"])
        .values_list("status", "survey_id", "reason", "assignee_id", "soon")
        .annotate(n=Count("pk"))
        .order_by()
    )
    later: dict[Key, int] = {}
    due_soon: dict[Key, int] = {}
    for status, survey, reason, assignee, is_soon, cases in not_due:
        key = (status, survey, reason, assignee or 0)
        (due_soon if is_soon else later)[key] = cases
    found = []
    for key, total in _sums().items():
        status, survey, reason, assignee = key
        group = {
            "status": status,
            "survey_id": survey,
            "reason": reason,
            "assignee_id": assignee or None,
        }
        if status == FollowUp.Status.RESOLVED:
            # No option asks whether a resolved case is overdue: only open ones can be.
            found.append({**group, "overdue": False, "soon": False, "cases": total})
            continue
        waiting = later.get(key, 0) + due_soon.get(key, 0)
        for overdue, is_soon, cases in (
            (True, False, total - waiting),
            (False, True, due_soon.get(key, 0)),
            (False, False, later.get(key, 0)),
        ):
            if cases > 0:
                found.append({**group, "overdue": overdue, "soon": is_soon, "cases": cases})
    return found
