"""Processing a submitted response: its scores and what follows it, exactly once."""

import logging
from collections import Counter
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from metrics import followups, rollups, webhooks
from metrics.models import Notification
from surveys.models import Response

logger = logging.getLogger(__name__)

# A response left unprocessed this long is taken to have missed the broker.
SWEEP_AFTER = timedelta(seconds=60)


# The hot path is plain SQL: on a worker an ORM query costs several times its round trip,
# and one worker must keep up with hundreds of answers a second. RETURNING makes the
# claim and the read of the response one statement (PostgreSQL, and SQLite since 3.35).
CLAIM = f"""
UPDATE {Response._meta.db_table} SET processed_at = %s
 WHERE id = %s AND processed_at IS NULL
RETURNING *"""  # noqa: S608


@transaction.atomic
def process_response(*, response_id: int) -> bool:
    """Add a response to the rollups and open its follow-up case if it needs one.

    The claim (processed_at from NULL to now), the increments and the case commit
    together: a retry after a failure starts afresh, and a second worker finds nothing
    to claim.
    """
    if connection.vendor == "postgresql":
        # Not waiting for the disk at commit: a commit lost in a crash loses the claim
        # with the counts, so the response is unprocessed again and the sweeper redoes it.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
    # On this transaction's connection: raw() would otherwise ask the router for a read.
    claimed = list(
        Response.objects.raw(CLAIM, [timezone.now(), response_id], using=connection.alias)
    )
    if not claimed:
        return False
    (response,) = claimed
    if response.excluded_at is not None:
        # Staff took it out of the scores before it was processed: nothing follows it.
        return True
    webhooks.emit(
        Notification.Kind.RESPONSE_CREATED, surveys=[response.survey_id], response=response
    )
    response.survey = followups.survey_with_rule(response.survey_id)
    answers = followups.answers_of(response_id)
    day = timezone.localdate(response.submitted_at)
    members = rollups.members(response)
    rollups.add(
        Counter(
            (response.survey_id, question_id, day, dimension, member, value)
            for question_id, _, _, value, _ in answers
            if value is not None
            for dimension, member in members.items()
        )
    )
    followups.after_answers(response=response, answers=answers)
    return True


def process_stale_responses(*, limit: int = 1000) -> int:
    """Process responses whose task never came (a broker outage); returns how many."""
    cutoff = timezone.now() - SWEEP_AFTER
    stale = Response.objects.filter(processed_at__isnull=True, submitted_at__lt=cutoff)
    ids = list(stale.order_by("submitted_at").values_list("pk", flat=True)[:limit])
    processed = 0
    for pk in ids:
        try:
            processed += process_response(response_id=pk)
        except Exception:
            # One response that cannot be processed must not hold up all later ones.
            logger.exception("Response %s could not be processed; it stays unprocessed.", pk)
    if processed:
        logger.warning("Swept %d responses that were not processed in time.", processed)
    return processed
