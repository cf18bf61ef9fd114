"""Follow-ups survive a broker outage and a killed worker: real Redis, PostgreSQL and Celery.

Each test runs its own redis-server on a free port (the machine's Redis on 6379 is never
stopped, and other test runs flushing its databases cannot disturb these queues): the
test process publishes through `loyaltysite.celery.app` pointed at it, and the worker
subprocesses get it as REDIS_URL. Nothing is mocked.
"""

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import redis
from django.db import connection
from django.db.models import F
from django.test import override_settings
from django.urls import reverse

from metrics import tasks
from metrics.models import FollowUp, FollowUpNote, ScoreRollup
from metrics.rollups import recompute_rollups
from surveys.models import Response, Survey
from surveys.services import submit_response
from tests.brokers import free_port, publishing_to
from tests.factories import SurveyFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

DETRACTOR = 3
# The sweeper (metrics.processing.SWEEP_AFTER) only takes responses older than a minute.
PAST_THE_SWEEPER_CUTOFF = timedelta(seconds=61)
QUEUE = "celery"  # the Redis list of the default queue
UNACKED = "unacked"  # kombu's hash of delivered, not yet acknowledged messages


def _score(i: int) -> int:
    """Every third answer is a detractor's 3; the others are promoters' 9 and 10."""
    return DETRACTOR if i % 3 == 0 else 9 + i % 2


def _wait_until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll `condition`; returns the seconds it took, fails after `seconds`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"gave up after {seconds} s waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - start


class PrivateRedis:
    """A throwaway redis-server without persistence: a kill loses its queues, as in an outage."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = self.client()
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert self.process.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=5)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _assert_one_followup_per_detractor(survey: Survey, detractors: set[int]) -> None:
    responses = Response.objects.filter(survey=survey)
    assert not responses.filter(processed_at__isnull=True).exists(), "unprocessed responses"
    followed_up = list(FollowUp.objects.filter(survey=survey).values_list("response_id", flat=True))
    assert len(followed_up) == len(set(followed_up)), "a response has two follow-ups"
    assert set(followed_up) == detractors, "follow-ups are not exactly the detractors'"
    opened = FollowUpNote.objects.filter(followup__survey=survey, kind=FollowUpNote.Kind.OPENED)
    assert opened.count() == len(detractors), "a case was opened twice"


# One test client posts all the answers: generous limits, so none is turned away.
@override_settings(PUBLIC_POSTS_PER_MINUTE=100, PUBLIC_POSTS_PER_DAY=100)
def test_redis_down_while_responses_arrive_loses_no_follow_up(
    client, private_redis, start_celery_worker
):
    """50 answers on the public form while Redis is down, a third of them detractors: each
    is saved and thanked; once Redis is back, every detractor has exactly one case."""
    survey = SurveyFactory(template="nps")
    url = reverse("surveys:respond", args=[survey.slug])
    with publishing_to(private_redis.url):
        # The web process has been publishing before the outage, so its pool holds a live
        # connection that the outage breaks (this message dies with the unpersisted Redis).
        tasks.sweep_responses.delay()
        private_redis.kill()

        durations, statuses = [], []
        for i in range(50):
            start = time.monotonic()
            page = client.post(url, {"q1": str(_score(i))})
            durations.append(time.monotonic() - start)
            statuses.append(page.status_code)
        print(
            f"\n50 POSTs with Redis down: mean {sum(durations) / 50:.3f} s, "
            f"max {max(durations):.3f} s, total {sum(durations):.1f} s"
        )
        assert statuses == [302] * 50
        responses = Response.objects.filter(survey=survey)
        assert responses.count() == 50
        assert responses.filter(processed_at__isnull=True).count() == 50
        detractors = set(
            responses.filter(answers__question__position=1, answers__value=DETRACTOR).values_list(
                "pk", flat=True
            )
        )
        assert len(detractors) == 17

        private_redis.start()
        back_at = time.monotonic()
        start_celery_worker(redis_url=private_redis.url)
        # Their tasks never reached a broker, so what recovers them is production's own
        # path: beat sends sweep_responses every minute, and it takes responses left
        # unprocessed for over a minute. Rather than wait that minute, move the
        # submissions a minute into the past and send the task as beat would.
        responses.update(submitted_at=F("submitted_at") - PAST_THE_SWEEPER_CUTOFF)
        tasks.sweep_responses.delay()
        _wait_until(
            lambda: FollowUp.objects.filter(survey=survey).count() >= len(detractors),
            seconds=120 - (time.monotonic() - back_at),
            what="a follow-up for every detractor",
        )
        print(f"every follow-up existed {time.monotonic() - back_at:.1f} s after Redis returned")
        _wait_until(
            lambda: not responses.filter(processed_at__isnull=True).exists(),
            seconds=30,
            what="every response processed",
        )
    _assert_one_followup_per_detractor(survey, detractors)
    assert recompute_rollups(surveys=[survey]).cells == 0


def _pool_children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:  # fields after the name: state, ppid, ...
            children.append(int(stat.parent.name))
    return children


def _backends_blocked_by(pid: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid]
        )
        return [row[0] for row in cursor.fetchall()]


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def _separate_database_session() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
    )


@pytest.mark.parametrize("kill", ["worker", "pool-child"])
def test_a_worker_killed_while_processing_loses_and_duplicates_no_follow_up(
    kill, private_redis, start_celery_worker
):
    """SIGKILL in the middle of a detractor's processing: after its claim, before its case.

    "worker": a solo worker is killed outright; its message stays unacknowledged in Redis
    for the 2-hour visibility timeout of the settings, so production recovers the response
    with the sweeper, and the redelivery that comes later must do nothing.
    "pool-child": a prefork worker's pool process is killed; the worker requeues the
    message at once (acks_late + reject_on_worker_lost) for a new pool process.
    """
    survey = SurveyFactory(template="nps")
    question = survey.questions.get(position=1)
    broker = private_redis.client()
    rollups = ScoreRollup._meta.db_table
    responses = Response.objects.filter(survey=survey)
    with publishing_to(private_redis.url):
        if kill == "worker":
            worker = start_celery_worker(redis_url=private_redis.url)
        else:
            worker = start_celery_worker(redis_url=private_redis.url, pool="prefork", concurrency=1)

        submitted: dict[int, int] = {}

        def submit(numbers: range) -> None:
            for i in numbers:
                response = submit_response(
                    survey=survey, answers={question: _score(i)}, language="en"
                )
                submitted[response.pk] = _score(i)

        submit(range(30))
        # Once a detractor's rollup cells exist, locking them makes the next detractor's
        # task stop inside its transaction: claimed, counted in part, without its case.
        _wait_until(
            lambda: (
                responses.filter(processed_at__isnull=False).count() >= 20
                and ScoreRollup.objects.filter(survey=survey, value=DETRACTOR).count() == 4
            ),
            seconds=30,
            what="the worker to be under way",
        )
        lock = _separate_database_session()
        try:
            locked = lock.execute(
                f"SELECT id FROM {rollups} WHERE survey_id = %s AND value = %s FOR UPDATE",  # noqa: S608
                [survey.pk, DETRACTOR],
            ).fetchall()
            assert len(locked) == 4
            submit(range(30, 200))
            our_pid = lock.info.backend_pid
            _wait_until(lambda: _backends_blocked_by(our_pid), 30, "a task waiting on the lock")
            (in_flight,) = _backends_blocked_by(our_pid)
            processed_before = responses.filter(processed_at__isnull=False).count()
            assert processed_before < 200
            killed_at = time.monotonic()
            if kill == "worker":
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
            else:
                (child,) = _pool_children(worker.pid)
                os.kill(child, signal.SIGKILL)
        finally:
            lock.rollback()
            lock.close()
        # The killed task's database session ends without a commit once it notices its
        # client is gone, after the lock it waited on is released.
        _wait_until(lambda: not _backend_alive(in_flight), 30, "the killed task's session to end")
        print(f"\nkilled ({kill}) after {processed_before} of 200 responses were processed")

        if kill == "worker":
            # Its claim rolled back with it: the response is unprocessed, with no case.
            unprocessed = responses.filter(processed_at__isnull=True).order_by("pk")
            victim = unprocessed.first()
            assert victim is not None
            assert submitted[victim.pk] == DETRACTOR
            assert not FollowUp.objects.filter(response=victim).exists()
            assert responses.filter(processed_at__isnull=False).count() == processed_before
            assert broker.hlen(UNACKED) == 1, "the killed task's message is not held unacked"

            start_celery_worker(redis_url=private_redis.url)
            _wait_until(
                lambda: broker.llen(QUEUE) == 0 and unprocessed.count() == 1,
                seconds=60,
                what="the new worker to process the rest of the queue",
            )
            assert list(unprocessed.values_list("pk", flat=True)) == [victim.pk]
            # Redis would redeliver the message after 2 hours; until then beat's
            # sweep_responses recovers the response once it is a minute old. Move it a
            # minute into the past instead of waiting, and send the task as beat would.
            unprocessed.update(submitted_at=F("submitted_at") - PAST_THE_SWEEPER_CUTOFF)
            tasks.sweep_responses.delay()

        _wait_until(
            lambda: not responses.filter(processed_at__isnull=True).exists(),
            seconds=120,
            what="every response processed",
        )
        print(f"all 200 processed {time.monotonic() - killed_at:.1f} s after the kill")
        detractors = {pk for pk, score in submitted.items() if score == DETRACTOR}
        _assert_one_followup_per_detractor(survey, detractors)

        if kill == "worker":
            # The late redelivery: the killed task's message is still held; a worker with a
            # 1-second visibility timeout restores it when it starts, and its claim must
            # find nothing to do.
            _wait_until(lambda: broker.hlen(UNACKED) == 1, 10, "only the killed task's message")
            start_celery_worker(
                redis_url=private_redis.url, transport_options={"visibility_timeout": 1}
            )
        # Acknowledged late, so a message leaves Redis once its task has committed.
        _wait_until(
            lambda: broker.hlen(UNACKED) == 0 and broker.llen(QUEUE) == 0,
            seconds=30,
            what="no message left in Redis",
        )
        _assert_one_followup_per_detractor(survey, detractors)
    assert len(detractors) == 67
    assert recompute_rollups(surveys=[survey]).cells == 0
