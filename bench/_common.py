"""Shared setup of the benchmarks: import this first, it configures and starts Django.

The benchmarks empty the surveys and metrics tables, so they run only against a
PostgreSQL database whose name contains "bench", and they use Redis database 14 only
(or BENCH_REDIS_URL).
"""

import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import django

# BENCH_REDIS_URL picks another database, so that two people can run benchmarks at once.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
_database = urlsplit(DATABASE_URL)
if _database.scheme not in ("postgres", "postgresql") or "bench" not in _database.path:
    sys.exit(
        "The benchmarks need DATABASE_URL set to a PostgreSQL database whose name contains "
        '"bench" (its surveys and metrics tables are emptied), e.g.\n'
        "  createdb -h 127.0.0.1 -U postgres loyalty_bench\n"
        "  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench"
    )
# As in production: no query log in memory. The broker is Redis database 14, never the
# one in the environment, since the worker benchmark flushes it.
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "loyaltysite.settings",
    "DEBUG": "0",
    "SECRET_KEY": "benchmarks-only",
    "SITE_URL": "http://localhost:8000",
    "REDIS_URL": REDIS_URL,
    "LOG_LEVEL": "WARNING",
}
os.environ.update(BENCH_ENV)
django.setup()

from django.apps import apps  # noqa: E402 - needs django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from metrics.management.commands import seed_demo  # noqa: E402
from metrics.rollups import recompute_rollups  # noqa: E402
from surveys.models import Customer, Survey  # noqa: E402


def migrate_and_flush() -> None:
    """Bring the schema up to date and empty every surveys and metrics table."""
    call_command("migrate", verbosity=0)
    tables = [
        model._meta.db_table
        for label in ("surveys", "metrics")
        for model in apps.get_app_config(label).get_models()
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def seed(template: str, name: str, responses: int, rng: random.Random) -> Survey:
    """A live survey with `responses` processed responses and its rollups, by seed_demo's
    loader (reusing the customers already there); returned with its questions."""
    customers = list(Customer.objects.all()) or seed_demo.create_customers(rng, 300)
    (survey,) = seed_demo.create_demo_surveys(rng, [(template, name, "en")])
    started = time.perf_counter()
    seed_demo.load_responses(rng, [survey], customers, responses, progress=lambda _: None)
    recompute_rollups(surveys=[survey])
    with connection.cursor() as cursor:  # what autovacuum does within a minute or so
        cursor.execute("ANALYZE metrics_scorerollup")
    print(f"  seeded {name!r}: {responses:,} responses in {time.perf_counter() - started:.1f} s")
    return Survey.objects.prefetch_related("questions").get(pk=survey.pk)


def timed(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def median_time(function: Callable[[], Any], runs: int = 7) -> float:
    """The median of `runs` timings, after one warm-up run."""
    function()
    return statistics.median(timed(function) for _ in range(runs))


def verdict(label: str, value: float, target: float, *, at_most: bool = False) -> bool:
    """Print one figure against its target; returns whether the target is met."""
    met = value <= target if at_most else value >= target
    sign = "<=" if at_most else ">="
    # Two decimals for a ratio near its target, so 0.76 is not shown as 0.8.
    shown = f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    print(f"{label}: {shown} (target {sign} {target:,g}) -> {'MET' if met else 'MISSED'}")
    return met


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"
