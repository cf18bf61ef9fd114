"""Public submissions under gunicorn on PostgreSQL, driven by wrk, against a bare view.

One gunicorn, started with the product's gunicorn.conf.py and bench/load_settings.py,
serves both the public survey form and `/bare/<survey>/` (bench/load_urls.py: one row
inserted, one task enqueued). wrk (bench/load.lua) GETs the form and POSTs an answer,
alternately, for 10 s against each, three times in turn. Then POSTs only, with Redis up,
with nothing listening on its port and with a Redis that accepts and never answers
(each its own gunicorn). See bench/README.md.
"""

import json
import os
import runpy
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import closing, suppress
from pathlib import Path

import redis
from _common import REDIS_URL, migrate_and_flush, verdict  # configures Django first
from django.db import ProgrammingError, connection

from surveys.models import Response, Survey
from surveys.services import create_survey

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# BENCH_PORT picks another port, so that two people can run the benchmark at once.
ADDRESS = f"127.0.0.1:{os.environ.get('BENCH_PORT', '8843')}"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
SECONDS, WARM_UP = 10, 2
THREADS, CONNECTIONS = 2, 16
ROUNDS = 3
ANSWER = "q1=9"
TARGET_RATIO = 0.8  # public submissions per second against the bare view's, at least
TARGET_OUTAGE = 3.0  # POST p99 with Redis unreachable against Redis up, at most


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hung_redis() -> str:
    """A server that accepts connections and never answers, for as long as we run."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held = []

    def accept() -> None:
        while True:
            held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def server_env(redis_url: str) -> dict[str, str]:
    return os.environ | {
        "DJANGO_SETTINGS_MODULE": "load_settings",
        "REDIS_URL": redis_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP from wrk, no TLS proxy in front
        # The rate limit is on and counts every POST, but wrk is one client posting
        # thousands of answers a minute: generous limits, so none is refused.
        "PUBLIC_POSTS_PER_MINUTE": "1000000",
        "PUBLIC_POSTS_PER_DAY": "1000000",
    }


def collect_static() -> None:
    subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--no-input", "-v0"],
        cwd=BENCH,
        env=server_env(REDIS_URL) | {"PYTHONPATH": str(BENCH)},
        check=True,
    )


def start_gunicorn(redis_url: str, probe: str) -> subprocess.Popen:
    """The production command with the benchmark's settings; returned once it serves."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(  # noqa: S603 - our own executable and arguments
        [str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"), "--bind", ADDRESS,
         "--pythonpath", str(BENCH), "--log-level", "warning"],
        cwd=ROOT,
        env=server_env(redis_url),
        stdout=subprocess.DEVNULL,  # the access log; errors go to stderr
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://{ADDRESS}{probe}", timeout=5) as page:
                if page.status == 200:
                    return server
        except OSError:  # not listening yet, or its workers still starting
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            stop(server)
            sys.exit("gunicorn did not start.")
        time.sleep(0.2)


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
    server.wait(timeout=60)


def wrk(path: str, mode: str, seconds: int = SECONDS) -> dict:
    """One wrk run; returns once the requests it left under way are answered."""
    output = subprocess.run(  # noqa: S603 - the installed wrk and our own arguments
        [WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(BENCH / "load.lua"), f"http://{ADDRESS}", "--", path, mode, ANSWER],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    time.sleep(1)  # wrk stops counting at the deadline, not the server answering
    (line,) = (line for line in output.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def settle() -> None:
    """Start each run as the last one did: with the rows earlier runs wrote vacuumed and
    flushed to disk (as pgbench vacuums before it runs), so that autovacuum or a
    checkpoint that earlier runs called for does not fall into this one."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) surveys_response, surveys_answer")
        # A user without pg_checkpoint has the checkpoints as they come.
        with suppress(ProgrammingError):
            cursor.execute("CHECKPOINT")


def run(label: str, survey: Survey, path: str, mode: str) -> dict:
    """One measured wrk run; also counts the responses it stored."""
    settle()
    before = Response.objects.filter(survey=survey).count()
    result = wrk(path, mode)
    result["stored"] = Response.objects.filter(survey=survey).count() - before
    result["rate"] = result["requests"] / result["seconds"]
    print(
        f"  {label:<22} {result['rate']:8,.0f} requests/s  p50 {result['p50_ms']:7.1f} ms  "
        f"p99 {result['p99_ms']:7.1f} ms  errors {result['socket_errors']} socket, "
        f"{result['bad_status']} status  POSTs accepted {result['accepted']:,}, "
        f"stored {result['stored']:,}"
    )
    return result


def all_stored(results: list[dict]) -> bool:
    """Every accepted POST is stored; more may be, by at most the requests under way
    when wrk stopped (one a connection), which wrk no longer counts."""
    return all(0 <= r["stored"] - r["accepted"] <= CONNECTIONS for r in results)


def main() -> None:
    migrate_and_flush()
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    survey = create_survey(
        survey=Survey(name="Load", company="Acme", language="en", status=Survey.Status.LIVE),
        template="nps",
    )
    baseline = Survey.objects.create(name="Bare", company="Acme", language="en")
    public, bare = f"/s/{survey.slug}/", f"/bare/{baseline.pk}/"
    collect_static()
    workers = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"]
    print(
        f"gunicorn with {workers} workers, wrk with {THREADS} threads and {CONNECTIONS} "
        f"connections, {SECONDS} s a run; GET the form and POST an answer, alternately:"
    )

    server = start_gunicorn(REDIS_URL, public)
    try:
        wrk(public, "mixed", WARM_UP)
        wrk(bare, "mixed", WARM_UP)
        products, bares = [], []
        for number in range(1, ROUNDS + 1):
            products.append(run(f"public form ({number})", survey, public, "mixed"))
            bares.append(run(f"bare view ({number})", baseline, bare, "mixed"))
        print("POSTs only:")
        redis_up = run("Redis up", survey, public, "post")
        bare_posts = run("bare view", baseline, bare, "post")
    finally:
        stop(server)
    outages = []
    for label, url in [
        ("Redis port closed", f"redis://127.0.0.1:{free_port()}/0"),
        ("Redis hung", hung_redis()),
    ]:
        server = start_gunicorn(url, public)
        try:
            wrk(public, "post", WARM_UP)
            outages.append((label, run(label, survey, public, "post")))
        finally:
            stop(server)
    broker.flushdb()

    product_rate = statistics.median(r["rate"] for r in products)
    bare_rate = statistics.median(r["rate"] for r in bares)
    print(f"median: public form {product_rate:,.0f} requests/s, bare view {bare_rate:,.0f}")
    verdict("public form / bare view, requests per second", product_rate / bare_rate, TARGET_RATIO)
    posts = redis_up["rate"] / bare_posts["rate"]
    print(f"for comparison, POSTs only: public form / bare view {posts:.2f}")
    for label, result in outages:
        verdict(
            f"POST p99 with {label} / with Redis up",
            result["p99_ms"] / redis_up["p99_ms"],
            TARGET_OUTAGE,
            at_most=True,
        )
    every_run = [*products, *bares, redis_up, bare_posts, *(result for _l, result in outages)]
    errors = sum(r["socket_errors"] + r["bad_status"] for r in every_run)
    verdict("errors in all runs", errors, 0, at_most=True)
    stored = all_stored(every_run)
    print(f"every accepted POST stored: {'MET' if stored else 'MISSED'}")


if __name__ == "__main__":
    main()
