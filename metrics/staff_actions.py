"""The record of what staff did to cases, exports and customers (metrics.models.StaffAction)."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from metrics.models import StaffAction

# Who acts when no user does: an API key, named by the API while it calls a service.
_acting: ContextVar[str] = ContextVar("acting", default="")


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Record what is done meanwhile (without a user) as done by `name`."""
    token = _acting.set(name)
    try:
        yield
    finally:
        _acting.reset(token)


def acting() -> str:
    """Who acts without a user meanwhile (acting_as), else ""."""
    return _acting.get()


def record_staff_action(
    *, by: Any, action: str, target: models.Model | None = None, detail: str = ""
) -> StaffAction:
    """Write down that `by` (a user; None for a command, or what acting_as names) did
    `action` to `target`.

    The object is kept by its kind and number only, never by its text: a customer's
    name would outlive their erasure here.
    """
    return StaffAction.objects.create(
        user=by,
        username=(by.get_username() if by is not None else acting())[:150],
        action=action,
        content_type=ContentType.objects.get_for_model(target) if target is not None else None,
        object_id=str(target.pk) if target is not None else "",
        detail=detail[:300],
    )
