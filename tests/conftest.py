import os
import shutil
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import SurveyFactory

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


@pytest.fixture
def nps_survey():
    return SurveyFactory(template="nps", company="Acme", language="nl")


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


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker process on Redis, using this test run's database."""
    import subprocess
    import sys
    import time

    import redis

    from loyaltysite.celery import app

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "loyaltysite",
            "worker",
            "--pool=solo",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=os.environ | {"DATABASE_URL": database_url},
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            assert worker.poll() is None, "the Celery worker exited"
            assert time.monotonic() < deadline, "the Celery worker did not start"
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=30)
