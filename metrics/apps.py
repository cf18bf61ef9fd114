import sqlite3
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = _("Metrics")

    def ready(self) -> None:
        from metrics import receivers  # noqa: F401 - connects the signal receivers

        checks.register(sqlite_has_returning)


def sqlite_has_returning(**kwargs: Any) -> list[checks.CheckMessage]:
    """Processing claims a response with UPDATE ... RETURNING, which SQLite has since 3.35."""
    engines = {database["ENGINE"] for database in settings.DATABASES.values()}
    if "django.db.backends.sqlite3" in engines and sqlite3.sqlite_version_info < (3, 35):
        return [
            checks.Error(
                f"SQLite {sqlite3.sqlite_version} is too old: processing answers needs 3.35 "
                "or newer. Use a Python built with a newer SQLite, or PostgreSQL.",
                id="metrics.E001",
            )
        ]
    return []
