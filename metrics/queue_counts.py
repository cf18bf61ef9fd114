"""The queue's counts per filter option, without counting every case on every view.

QueueCount keeps the number of cases per status, survey, reason and assignee: a case's
save moves it from its old combination to its new one (metrics.receivers), a deleted
case leaves its own. Whether an open case is overdue or due soon changes with the clock,
so that is read from the cases themselves, and only from those not yet due: open cases
are overdue unless due later, and few are (a case is due a day or so after it opens).
Anything that writes cases in bulk, past the receivers, calls `recompute`; the nightly
job does too, and logs what it corrected.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q

from metrics.models import FollowUp, QueueCount

log = logging.getLogger(__name__)

Key = tuple[str, int, str, int]  # status, survey, reason, assignee (0: unassigned)
# The fields of a case its combination is made of.
FIELDS = {"status", "survey", "survey_id", "reason", "assignee", "assignee_id"}
OPEN = ~Q(status=FollowUp.Status.RESOLVED)


def key_of(values: dict[str, Any]) -> Key | None:
    """A case's combination from its loaded fields; None when some were not loaded."""
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


def add(key: Key, cases: int) -> None:
    """`cases` more (or fewer) cases in `key`'s combination, in one statement."""
    if cases < 0:
        # A case leaving a combination never creates one (its survey may be going too).
        status, survey_id, reason, assignee = key
        QueueCount.objects.filter(
            status=status, survey_id=survey_id, reason=reason, assignee_key=assignee
        ).update(cases=F("cases") + cases)
        return
    with connection.cursor() as cursor:
        # Django's upsert sets a column to the new value; this one adds to it. The same
        # SQL runs on PostgreSQL and SQLite.
        cursor.execute(
            "INSERT INTO metrics_queuecount (status, survey_id, reason, assignee_key, cases) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (status, survey_id, reason, assignee_key) "
            "DO UPDATE SET cases = metrics_queuecount.cases + excluded.cases",
            [*key, cases],
        )


def moved(old: Key | None, new: Key) -> None:
    if old == new:
        return
    if old is not None:
        add(old, -1)
    add(new, 1)


def unassign(user_pk: int) -> None:
    """A deleted user's cases stay, unassigned: so do their counts."""
    for row in QueueCount.objects.filter(assignee_key=user_pk):
        add((row.status, row.survey_id, row.reason, 0), row.cases)
        row.delete()


def _counted() -> dict[Key, int]:
    rows = FollowUp.objects.values_list("status", "survey_id", "reason", "assignee_id")
    return {
        (status, survey, reason, assignee or 0): cases
        for status, survey, reason, assignee, cases in rows.annotate(n=Count("pk")).order_by()
    }


@transaction.atomic
def recompute() -> int:
    """Count every case again; returns the number of combinations that were wrong."""
    counted = _counted()
    stored = {
        (row.status, row.survey_id, row.reason, row.assignee_key): row.cases
        for row in QueueCount.objects.select_for_update()
    }
    wrong = {
        key for key in counted.keys() | stored.keys() if counted.get(key, 0) != stored.get(key, 0)
    }
    if wrong:
        QueueCount.objects.all().delete()
        QueueCount.objects.bulk_create(
            QueueCount(status=s, survey_id=survey, reason=r, assignee_key=a, cases=n)
            for (s, survey, r, a), n in counted.items()
        )
        log.warning("Queue counts: %d combinations were off and are corrected.", len(wrong))
    return len(wrong)


def groups(now: datetime, soon: timedelta) -> list[dict[str, Any]]:
    """The cases per status, survey, reason, assignee and whether overdue or due soon,
    as `metrics.followup_views._facets` counts them."""
    not_due = (
        FollowUp.objects.filter(OPEN, due_at__gte=now)
        .annotate(soon=ExpressionWrapper(Q(due_at__lte=now + soon), output_field=BooleanField()))
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
    for row in QueueCount.objects.filter(cases__gt=0):
        key = (row.status, row.survey_id, row.reason, row.assignee_key)
        group = {
            "status": row.status,
            "survey_id": row.survey_id,
            "reason": row.reason,
            "assignee_id": row.assignee_key or None,
        }
        if row.status == FollowUp.Status.RESOLVED:
            # No option asks whether a resolved case is overdue: only open ones can be.
            found.append({**group, "overdue": False, "soon": False, "cases": row.cases})
            continue
        waiting = later.get(key, 0) + due_soon.get(key, 0)
        for overdue, is_soon, cases in (
            (True, False, row.cases - waiting),
            (False, True, due_soon.get(key, 0)),
            (False, False, later.get(key, 0)),
        ):
            if cases > 0:
                found.append({**group, "overdue": overdue, "soon": is_soon, "cases": cases})
    return found
