"""How soon a detractor's answer becomes a follow-up case, with one Celery worker on Redis.

Posts detractor answers (NPS 3) to a survey's public form, one at a time, with Django's
test client in this process, and polls the database every 2 ms for each answer's FollowUp
row. The worker is the Procfile's (prefork, WORKER_CONCURRENCY processes), started by this script.

See bench/README.md.
"""

import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("ALLOWED_HOSTS", "testserver")
# One client posts every answer: the public link's rate limit is not what is measured.
os.environ.setdefault("PUBLIC_POSTS_PER_MINUTE", "1000000")
os.environ.setdefault("PUBLIC_POSTS_PER_DAY", "1000000")
# WhiteNoise with DEBUG off looks for collected static files, which the form does not need.
warnings.filterwarnings("ignore", message="No directory at")
import redis  # noqa: E402
from _common import REDIS_URL, migrate_and_flush  # noqa: E402 - configures Django first
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from loyaltysite.celery import app  # noqa: E402
from metrics import processing  # noqa: E402
from metrics.models import FollowUp  # noqa: E402
from surveys.models import Response, Survey  # noqa: E402
from surveys.services import create_survey  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = 200
WARM_UP = 10
TARGET_P99 = 2.0  # seconds
POLL = 0.002  # seconds between two looks at the database


def prepare() -> Survey:
    migrate_and_flush()
    redis.Redis.from_url(REDIS_URL).flushdb()
    survey = Survey(name="Latency", company="Acme", language="en", status=Survey.Status.LIVE)
    return create_survey(survey=survey, template="nps")


def start_worker() -> subprocess.Popen:
    """The Procfile's worker, on REDIS_URL and DATABASE_URL; returned once it answers."""
    command = [sys.executable, "-m", "celery", "-A", "loyaltysite", "worker"]
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [*command, "--loglevel=WARNING"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,  # its banner; warnings and errors go to stderr
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            stop_worker(worker)
            sys.exit("The Celery worker did not start.")
    return worker


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=10)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"Gave up after {seconds} s waiting for {what}.")
        time.sleep(POLL)


def followup_latency(client: Client, url: str) -> tuple[float, float]:
    """(POST to FollowUp row, the POST alone) for one detractor answer, in seconds."""
    cases = FollowUp.objects.count()
    started = time.perf_counter()
    page = client.post(url, {"q1": "3"}, secure=True)
    posted = time.perf_counter()
    if page.status_code != 302:
        sys.exit(f"The form answered {page.status_code}, not 302.")
    wait_for(lambda: FollowUp.objects.count() > cases, "a follow-up")
    return time.perf_counter() - started, posted - started


def noop_round_trip() -> float:
    """A bare round trip through the broker to the worker and back: a ping.

    The app has no result backend and no no-op task, and a task's end cannot be seen
    reliably in Redis (a fast task is taken and acknowledged between two looks), so the
    worker's ping reply, which travels the same broker both ways, is the baseline.
    """
    started = time.perf_counter()
    replies = app.control.ping(timeout=5, limit=1)
    if not replies:
        raise SystemExit("The worker did not answer a ping within 5 s.")
    return time.perf_counter() - started


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def main() -> None:
    survey = prepare()
    url = reverse("surveys:respond", args=[survey.slug])
    client = Client()
    worker = start_worker()
    try:
        for _ in range(WARM_UP):
            followup_latency(client, url)
        processed = Response.objects.filter(processed_at__isnull=False).values_list("pk")[0][0]
        for _ in range(WARM_UP):
            noop_round_trip()
        latencies, posts, round_trips = [], [], []
        for _ in range(ANSWERS):  # interleaved, so both see the same conditions
            latency, post = followup_latency(client, url)
            latencies.append(latency)
            posts.append(post)
            round_trips.append(noop_round_trip())
        claims = []
        for _ in range(ANSWERS):
            started = time.perf_counter()
            processing.process_response(response_id=processed)
            claims.append(time.perf_counter() - started)
    finally:
        stop_worker(worker)

    cases = FollowUp.objects.filter(survey=survey).count()
    unprocessed = Response.objects.filter(processed_at__isnull=True).count()
    print(f"{ANSWERS} detractor answers (after {WARM_UP} to warm up), one at a time, one worker")
    print(f"(check: {cases} follow-ups for {ANSWERS + WARM_UP} answers, {unprocessed} unprocessed)")
    print(
        f"POST to FollowUp row: p50 {ms(statistics.median(latencies))}, "
        f"p99 {ms(p99(latencies))}, max {ms(max(latencies))}"
    )
    print(f"  of which the POST itself (incl. publishing): p50 {ms(statistics.median(posts))}")
    print(
        f"bare Celery no-op round trip (a ping to the worker through Redis and back): "
        f"p50 {ms(statistics.median(round_trips))}, p99 {ms(p99(round_trips))}"
    )
    claim = ms(statistics.median(claims))
    print(f"  the claim of an already processed response, in this process: p50 {claim}")
    ratio50 = statistics.median(latencies) / statistics.median(round_trips)
    ratio99 = p99(latencies) / p99(round_trips)
    print(f"ratio to the no-op round trip: p50 {ratio50:.1f}x, p99 {ratio99:.1f}x")
    within = p99(latencies) <= TARGET_P99
    print(
        f"p99 {ms(p99(latencies))} is {'within' if within else 'NOT within'} "
        f"{TARGET_P99:g} s -> {'MET' if within else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
