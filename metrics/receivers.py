import logging
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from metrics import rollups, tasks
from metrics.aggregates import SqliteMedian
from surveys.models import Response, Survey
from surveys.signals import response_submitted, responses_excluded

logger = logging.getLogger(__name__)


@receiver(response_submitted)
def enqueue_processing(sender: type[Response], response: Response, **kwargs: Any) -> None:
    # The response is committed already; if the broker is down the sweeper finds it
    # later, so the respondent must not see an error for it, nor wait for retries.
    try:
        tasks.process_response.apply_async((response.pk,), retry=False)
    except Exception:
        logger.warning("Could not enqueue response %s; the sweeper will process it.", response.pk)


@receiver(responses_excluded)
def recompute_scores(sender: type[Survey], survey: Survey, **kwargs: Any) -> None:
    # The same rebuild as the nightly one, for this survey only: it skips excluded answers
    # and counts the included ones again.
    rollups.recompute_rollups(surveys=[survey])


@receiver(connection_created)
def add_median_to_sqlite(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("MEDIAN", 1, SqliteMedian)
