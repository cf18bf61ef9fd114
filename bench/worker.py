"""Processing submitted responses with one Celery worker on Redis, against in-process.

See bench/README.md.
"""

import random
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis
from _common import REDIS_URL, migrate_and_flush, timed, verdict

from loyaltysite.celery import app
from metrics import tasks
from metrics.management.commands import seed_demo
from metrics.receivers import enqueue_processing
from surveys.models import Response, Survey
from surveys.services import submit_response
from surveys.signals import response_submitted

N = 3000
ROOT = Path(__file__).resolve().parent.parent
# One worker, as README's production command starts it: prefork, WORKER_CONCURRENCY
# processes (two per core by default).
CELERY = [str(ROOT / ".venv/bin/celery"), "-A", "loyaltysite", "worker", "-l", "WARNING"]
# For comparison: a single process (--pool=solo), which cannot use the second core.
SINGLE_PROCESS = [*CELERY, "--pool=solo"]
ROUNDS = 3  # of the worker; the median counts, as this machine's speed varies
QUEUE = "celery"


def submit(survey: Survey, rng: random.Random) -> list[int]:
    """N answers on the public link, as the form would save them; returns their ids."""
    score, comment = survey.questions.order_by("position")
    places = {"touchpoint": "checkout", "channel": "web"}
    return [
        submit_response(
            survey=survey,
            answers={score: rng.randint(0, 10), comment: rng.choice(["", "Fine.", "Too slow."])},
            metadata=places,
            language="en",
        ).pk
        for _ in range(N)
    ]


def wait_until(done: Callable[[], bool], seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("Gave up waiting.")
        time.sleep(0.02)


def in_process(survey: Survey, rng: random.Random) -> float:
    """Seconds for N process_response calls in this process, without Celery."""
    response_submitted.disconnect(enqueue_processing)
    try:
        ids = submit(survey, rng)
    finally:
        response_submitted.connect(enqueue_processing)
    return timed(lambda: [tasks.process_response(pk) for pk in ids])


def through_worker(command: list[str], survey: Survey, rng: random.Random) -> float:
    """Seconds for a worker to process N responses waiting in Redis.

    The worker starts and stops consuming while they are submitted (each enqueues its
    task after commit, as on the public form); the clock runs from when it consumes
    again until every one has processed_at set.
    """
    # Its environment is ours: DATABASE_URL, and REDIS_URL and the rest from _common.
    worker = subprocess.Popen(command, cwd=ROOT, start_new_session=True)  # noqa: S603
    try:
        with app.connection_for_write(REDIS_URL) as broker:
            wait_until(lambda: bool(app.control.ping(timeout=0.5, connection=broker)), 60)
            app.control.cancel_consumer(QUEUE, reply=True, connection=broker)
            submit(survey, rng)
            started = time.perf_counter()
            app.control.add_consumer(QUEUE, reply=True, connection=broker)
            pending = Response.objects.filter(survey=survey, processed_at__isnull=True)
            wait_until(lambda: not pending.exists())
            return time.perf_counter() - started
    finally:
        worker.terminate()  # warm shutdown
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def main() -> None:
    migrate_and_flush()
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    rng = random.Random(1)
    names = ["In-process", *(f"Worker {n}" for n in range(1, ROUNDS + 1)), "Single process"]
    unqueued, *rounds, single = seed_demo.create_demo_surveys(
        rng, [("nps", n, "en") for n in names]
    )
    baseline = in_process(unqueued, rng)
    broker.flushdb()  # anything the baseline enqueued
    print(f"in-process: {N:,} process_response calls in {baseline:.2f} s ({N / baseline:,.0f}/s)")
    times = [through_worker(CELERY, survey, rng) for survey in rounds]
    rounds_text = ", ".join(f"{t:.2f}" for t in times)
    print(f"one worker: {N:,} queued responses processed in {rounds_text} s")
    elapsed = statistics.median(times)
    verdict("responses processed per second by one worker (median)", N / elapsed, 300)
    print(f"ratio worker/in-process time: {elapsed / baseline:.2f}x")
    solo = through_worker(SINGLE_PROCESS, single, rng)
    print(
        f"for comparison, one worker process (--pool=solo): {N / solo:,.0f}/s, "
        f"ratio to in-process time {solo / baseline:.2f}x"
    )


if __name__ == "__main__":
    main()
