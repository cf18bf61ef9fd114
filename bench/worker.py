"""Processing submitted responses with one Celery worker on Redis, against in-process.

See bench/README.md.
"""

import random
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
WORKER = [str(ROOT / ".venv/bin/celery"), "-A", "loyaltysite", "worker"]
WORKER += ["--pool=solo", "--concurrency=1", "-l", "WARNING"]


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
        time.sleep(0.05)


def start_worker() -> subprocess.Popen[bytes]:
    # Its environment is ours: DATABASE_URL, and REDIS_URL and the rest from _common.
    worker = subprocess.Popen(WORKER, cwd=ROOT, start_new_session=True)  # noqa: S603
    with app.connection_for_write(REDIS_URL) as broker:
        wait_until(lambda: bool(app.control.ping(timeout=0.5, connection=broker)), 60)
    return worker


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()  # warm shutdown
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def in_process(survey: Survey, rng: random.Random) -> float:
    """Seconds for N process_response calls in this process, without Celery."""
    response_submitted.disconnect(enqueue_processing)
    try:
        ids = submit(survey, rng)
    finally:
        response_submitted.connect(enqueue_processing)
    return timed(lambda: [tasks.process_response(pk) for pk in ids])


def through_worker(survey: Survey, rng: random.Random) -> tuple[float, float]:
    """Seconds from the first submission until all N are processed, and to submit them."""
    started = time.perf_counter()
    submit(survey, rng)
    submitted = time.perf_counter() - started
    pending = Response.objects.filter(survey=survey, processed_at__isnull=True)
    wait_until(lambda: not pending.exists())
    return time.perf_counter() - started, submitted


def main() -> None:
    migrate_and_flush()
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    rng = random.Random(1)
    alone, queued = seed_demo.create_demo_surveys(
        rng, [("nps", "In-process", "en"), ("nps", "Worker", "en")]
    )
    baseline = in_process(alone, rng)
    broker.flushdb()  # anything the baseline enqueued
    worker = start_worker()
    try:
        elapsed, submitting = through_worker(queued, rng)
    finally:
        stop(worker)
    print(f"in-process: {N:,} process_response calls in {baseline:.2f} s ({N / baseline:,.0f}/s)")
    print(f"one worker: {N:,} submitted in {submitting:.2f} s, all processed after {elapsed:.2f} s")
    verdict("responses processed per second by the worker", N / elapsed, 300)
    print(f"ratio worker/in-process time: {elapsed / baseline:.2f}x")


if __name__ == "__main__":
    main()
