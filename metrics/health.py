"""What /healthz reports: can this process reach the database and the broker, and is
the scheduler's sweeper running (without it, answers that missed the broker wait)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from loyaltysite.celery import app
from metrics.models import JobRun

SWEEPER = "metrics.tasks.sweep_responses"
# It runs every minute: five missed runs mean the scheduler or every worker is gone.
SWEEPER_LATE_AFTER = timedelta(minutes=5)

OK = "ok"


@dataclass(frozen=True)
class Health:
    database: str
    broker: str
    sweeper: str
    sweeper_last_run: datetime | None

    @property
    def healthy(self) -> bool:
        return self.database == self.broker == self.sweeper == OK

    def as_json(self, now: datetime) -> dict[str, object]:
        last_run = self.sweeper_last_run
        return {
            "status": OK if self.healthy else "failing",
            "database": self.database,
            "broker": self.broker,
            "sweeper": self.sweeper,
            "sweeper_seconds_ago": round((now - last_run).total_seconds()) if last_run else None,
        }


def sweeper_state(last_run: datetime | None, now: datetime) -> str:
    if last_run is None:
        return "never ran"
    return OK if now - last_run <= SWEEPER_LATE_AFTER else "late"


def check(now: datetime | None = None) -> Health:
    now = now or timezone.now()
    database = _database()
    last_run = None
    if database == OK:
        last_run = JobRun.objects.filter(name=SWEEPER).values_list("finished_at", flat=True).first()
    sweeper = sweeper_state(last_run, now) if database == OK else "unknown"
    return Health(database=database, broker=_broker(), sweeper=sweeper, sweeper_last_run=last_run)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return "unreachable"
    return OK


def _broker() -> str:
    # One attempt, bounded by the broker's socket timeouts (settings): a hung Redis
    # makes this answer in well under a second.
    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=0)
    except Exception:
        return "unreachable"
    return OK
