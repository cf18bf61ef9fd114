import contextlib
import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from django.db import connection
from django.utils import translation

from tests.factories import CustomerFactory, SurveyFactory, import_orders

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Under CI a missing service fails the run; on a bare machine its tests skip, visibly.
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _redis_answers() -> bool:
    url = os.environ.get("REDIS_URL")
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _require(available: bool, reason: str) -> None:
    if available:
        return
    if CI:
        pytest.fail(f"{reason}; CI must run this test.", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _required_services(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres"):
        _require(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")
    if request.node.get_closest_marker("redis"):
        _require(_redis_answers(), "needs Redis: set REDIS_URL to a running server")
    if request.node.get_closest_marker("browser"):
        _require(Path(CHROMIUM).exists(), "needs Debian's chromium at /usr/bin/chromium")
        _require(AXE.exists(), "needs axe-core: run npm ci")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 spends a fifth of a second and 100 MB on each password, by design, and the
    # tests make hundreds of users; tests/test_security_headers.py checks the site's own.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language_after_each_test():
    # A request in Dutch leaves Dutch active in the test's thread; the next test starts
    # in the default language, as a new request or command would.
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _breakers_closed_after_each_test():
    # A test whose broker or cache failed leaves this process skipping it for a while;
    # the next test starts with one that answers, as a new process would.
    yield
    from loyaltysite.broker import breaker
    from surveys import ratelimit

    breaker.close()
    ratelimit.breaker.close()


@pytest.fixture(autouse=True)
def _public_links_read_afresh_in_each_test():
    # Each test starts with no survey kept from the last one, as a new process would.
    from surveys.published import forget

    forget()


@pytest.fixture(autouse=True)
def _webhooks_read_afresh_in_each_test():
    # Nor a webhook kept from the last one, which its rollback removed without a signal.
    from metrics.webhooks import forget

    forget()


@pytest.fixture
def nps_survey():
    return SurveyFactory(template="nps", company="Acme", language="nl")


@pytest.fixture
def shop(db):
    """Five customers and their orders; the KPIs of each month are worked out in the tests.

    ann  since 2024-06-01
    bob  since 2025-01-10, until 2025-02-15 (the first day he is no longer a customer)
    cas  no customer_since: a customer from her first order (3 Feb; a refund on 20 Jan
         is no order)
    dee  since 2024-01-01, until 2025-01-01
    eve  since 2025-03-05, until 2025-03-20: joined and left in March
    """
    people = {
        "ann": (date(2024, 6, 1), None),
        "bob": (date(2025, 1, 10), date(2025, 2, 15)),
        "cas": (None, None),
        "dee": (date(2024, 1, 1), date(2025, 1, 1)),
        "eve": (date(2025, 3, 5), date(2025, 3, 20)),
    }
    for ref, (since, until) in people.items():
        CustomerFactory(ref=ref, customer_since=since, customer_until=until, segment="retail")
    from surveys.models import Customer

    Customer.objects.filter(ref="dee").update(segment="wholesale")
    import_orders(
        # January
        "j1,ann,2025-01-05T10:00:00,40.00,shoes",
        "j2,ann,2025-01-20T10:00:00,10.00,socks",  # an upsell: new to ann, who had ordered
        "j3,bob,2025-01-12T09:00:00,30.00,shoes",  # bob's first order: never an upsell
        "j4,cas,2025-01-20T12:00:00,-15.00,shoes",  # a refund: revenue only
        # February; 00:30 in Amsterdam is still 31 January in UTC
        'f1,ann,2025-02-01T00:30:00+01:00,"12,50",socks',
        "f2,bob,2025-02-10T10:00:00,30.00,shoes",
        "f3,bob,2025-02-11T10:00:00,25.00,hat",  # an upsell
        "f4,cas,2025-02-03T10:00:00,50.00,hat",  # cas's first order
        "f5,cas,2025-02-04T10:00:00,20.00,shoes",  # an upsell: before, only refunded
        "f6,ann,2025-02-20T10:00:00,-12.50,socks",
        # March, which has 23 hours on the 30th; April starts at 22:00 UTC on 31 March
        "m1,ann,2025-03-10T10:00:00,15.00,hat",  # an upsell
        "m2,eve,2025-03-31T23:30:00,20.00,hat",  # 21:30 UTC: still March
        "a1,ann,2025-04-01T00:30:00,40.00,shoes",  # 22:30 UTC on 31 March: April
    )


@pytest.fixture
def eager_celery():
    """Run tasks in-process, as soon as they are sent."""
    from loyaltysite.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


def _person(username, group=None, **flags):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, f"{username}@example.com", "pw", **flags)
    if group:
        # get_or_create: transactional tests flush the groups the migration made.
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def manager(db):
    from metrics.access import MANAGERS

    return _person("manager", MANAGERS, is_staff=True)


@pytest.fixture
def agent(db):
    from metrics.access import AGENTS

    return _person("agent", AGENTS)


@pytest.fixture
def outsider(db):
    return _person("outsider")


# Runs a worker with broker transport options overridden from a JSON environment variable
# (e.g. a short visibility_timeout), for tests that need the broker to redeliver soon.
_WORKER_WITH_OPTIONS = (
    "import json, os, sys\n"
    "from loyaltysite.celery import app\n"
    "overrides = json.loads(os.environ['TEST_BROKER_TRANSPORT_OPTIONS'])\n"
    "app.conf.broker_transport_options = {**app.conf.broker_transport_options, **overrides}\n"
    "app.worker_main(['worker', *sys.argv[1:]])\n"
)


@pytest.fixture
def start_celery_worker(transactional_db):
    """Start real Celery worker processes on Redis, using this test run's database.

    `start(redis_url=..., pool="solo"|"prefork", concurrency=..., transport_options=...,
    name=...)` returns the running worker (a Popen) once a worker answers a ping on that
    broker; give each of several workers its own `name`. Workers
    still running at the end are stopped (warm shutdown, then SIGKILL); killed ones are
    reaped.
    """
    import signal
    import subprocess
    import sys
    import time

    from loyaltysite.celery import app

    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    workers: list[subprocess.Popen] = []

    def start(
        *,
        redis_url: str | None = None,
        pool: str = "solo",
        concurrency: int | None = None,
        transport_options: dict | None = None,
        name: str | None = None,
    ) -> subprocess.Popen:
        import json

        redis_url = redis_url or os.environ["REDIS_URL"]
        options = [
            f"--pool={pool}",
            *([f"--concurrency={concurrency}"] if concurrency else []),
            *([f"--hostname={name}@%h"] if name else []),
            "--without-mingle",
            "--without-gossip",
            "--loglevel=WARNING",
        ]
        env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
        if transport_options:
            command = [sys.executable, "-c", _WORKER_WITH_OPTIONS, *options]
            env["TEST_BROKER_TRANSPORT_OPTIONS"] = json.dumps(transport_options)
        else:
            command = [sys.executable, "-m", "celery", "-A", "loyaltysite", "worker", *options]
        # Its own process group, so that stopping it also stops any pool children.
        worker = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        workers.append(worker)
        deadline = time.monotonic() + 60
        with app.connection_for_write(redis_url) as broker:
            while not app.control.ping(timeout=0.5, connection=broker):
                assert worker.poll() is None, "the Celery worker exited"
                assert time.monotonic() < deadline, "the Celery worker did not start"
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
            if worker.returncode < 0:
                # Killed by a signal: its pool children, if any, were left behind.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGKILL)


@pytest.fixture
def celery_worker(start_celery_worker):
    """A real Celery worker process on Redis (REDIS_URL, flushed), using this run's database."""
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    return start_celery_worker()
