"""Settings come from the environment; bad values stop start-up with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-key-with-enough-length-and-variety-0123456789",
    "ALLOWED_HOSTS": "surveys.example.com",
    "SITE_URL": "https://surveys.example.com",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _printed_by_settings(script: str, **env: str) -> list[str]:
    """What `script` prints, run in a shell with these settings, word by word."""
    result = _manage("shell", "--no-imports", "-c", script, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_production_settings_pass_the_deployment_checklist():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "0"}, "SECRET_KEY must be set when DEBUG is off"),
        (
            {"DEBUG": "0", "SECRET_KEY": PRODUCTION["SECRET_KEY"]},
            "SITE_URL must be set when DEBUG is off",
        ),
        ({"DATABASE_URL": "mysql-ish://nowhere"}, "DATABASE_URL is not a database URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379' must start with redis://"),
        (
            {"SITE_URL": "surveys.example.com"},
            "SITE_URL='surveys.example.com' must be an http(s) URL",
        ),
        ({"SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS='a year' is not a whole number"),
        ({"SUPPORT_REPLY_TO": "support"}, "SUPPORT_REPLY_TO='support' is not an email address"),
        ({"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY=0 must be 1 or more"),
        ({"PUBLIC_POSTS_PER_MINUTE": "0"}, "PUBLIC_POSTS_PER_MINUTE=0 must be 1 or more"),
        ({"PUBLIC_POSTS_PER_DAY": "ten"}, "PUBLIC_POSTS_PER_DAY='ten' is not a whole number"),
        ({"CASE_ALERTS_PER_MINUTE": "-1"}, "CASE_ALERTS_PER_MINUTE=-1 must be 1 or more"),
        ({"CURRENCY": "euro"}, "CURRENCY='euro' must be a currency code such as EUR"),
        ({"LOGIN_FAILURE_LIMIT": "0"}, "LOGIN_FAILURE_LIMIT=0 must be 1 or more"),
        ({"LOGIN_COOLOFF_MINUTES": "0"}, "LOGIN_COOLOFF_MINUTES=0 must be 1 or more"),
        ({"PASSWORD_RESETS_PER_HOUR": "0"}, "PASSWORD_RESETS_PER_HOUR=0 must be 1 or more"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(env, message):
    result = _manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_database_and_redis_urls_select_postgresql_and_redis():
    script = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL,"
        " s.CACHES['default']['BACKEND'])"
    )
    printed = _printed_by_settings(
        script,
        DATABASE_URL="postgres://u:p@db.internal:5432/loyalty",
        REDIS_URL="redis://cache.internal:6379/0",
    )
    assert printed == [
        "django.db.backends.postgresql",
        "redis://cache.internal:6379/0",
        "django.core.cache.backends.redis.RedisCache",
    ]


@pytest.mark.parametrize(
    ("env", "threshold"), [({}, "5"), ({"DB_PREPARED_STATEMENTS": "0"}, "None")]
)
def test_prepared_statements_can_be_turned_off_for_an_old_pgbouncer(env, threshold):
    script = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['OPTIONS'].get('prepare_threshold'))"
    )
    printed = _printed_by_settings(
        script, DATABASE_URL="postgres://u:p@db.internal:5432/loyalty", **env
    )
    # psycopg prepares nothing with a threshold of None, Django's default.
    assert printed == [threshold]


def test_embedded_defaults_need_no_server():
    script = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)"
    )
    printed = _printed_by_settings(script, REDIS_URL="")
    assert printed == ["django.db.backends.sqlite3", "filesystem://"]


def test_the_embedded_defaults_pass_the_system_checks_without_a_warning():
    # `make run` migrates: a newcomer should see no warning about PostgreSQL-only
    # index options.
    result = _manage("check", "--database", "default", REDIS_URL="")

    assert result.returncode == 0, result.stderr
    assert "WARNINGS" not in result.stderr
    assert "no issues" in result.stdout


def test_an_sqlite_without_returning_is_refused_at_start_up(monkeypatch):
    from types import SimpleNamespace

    from metrics import apps

    sqlite = SimpleNamespace(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3"}})
    monkeypatch.setattr(apps, "settings", sqlite)
    monkeypatch.setattr(apps.sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(apps.sqlite3, "sqlite_version", "3.31.1")

    (error,) = apps.sqlite_has_returning()
    assert error.id == "metrics.E001" and "3.31.1" in error.msg

    monkeypatch.setattr(apps.sqlite3, "sqlite_version_info", (3, 40, 1))
    assert apps.sqlite_has_returning() == []


def test_the_embedded_database_lets_a_writer_wait_its_turn(tmp_path):
    """`make run`'s web, worker and scheduler write to one SQLite file. A transaction
    that read before another process's write committed still writes after it (the
    scheduler sending a survey request every minute failed with "database is locked")."""
    script = """
import sqlite3, threading
from django.db import connection, transaction
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE t (n integer)")
other = sqlite3.connect(
    connection.settings_dict["NAME"], timeout=30, check_same_thread=False, isolation_level=None
)
other.execute("BEGIN IMMEDIATE")
other.execute("INSERT INTO t VALUES (1)")
threading.Timer(0.5, lambda: other.execute("COMMIT")).start()
with transaction.atomic(), connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM t")
    cursor.execute("INSERT INTO t VALUES (2)")
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM t")
    print(cursor.fetchone()[0])
"""
    result = _manage("shell", "--no-imports", "-c", script, REDIS_URL="", VAR_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "2"
