"""Staff logins and password resets, throttled against guessing and against mail floods.

Failed logins are counted by django-axes (settings: LOGIN_FAILURE_LIMIT,
LOGIN_COOLOFF_MINUTES); password reset requests here, in the cache, per client address
and per email address (PASSWORD_RESETS_PER_HOUR).
"""

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from surveys.clients import client_address

logger = logging.getLogger(__name__)

HOUR = 60 * 60


def locked_out(request: HttpRequest, response: HttpResponse, credentials: Any) -> HttpResponse:
    """Axes' answer to a login while the user name is locked out from this address."""
    context = {"minutes": settings.LOGIN_COOLOFF_MINUTES}
    return render(request, "registration/locked_out.html", context, status=429)


def reset_allowed(*, request: HttpRequest, email: str) -> bool:
    """Count a reset request against its client and its email address; whether both are
    still within PASSWORD_RESETS_PER_HOUR. Each count starts with the hour's first request."""
    address = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    counts = [
        _count(f"password-reset:client:{client_address(request)}"),
        _count(f"password-reset:email:{address}"),
    ]
    return max(counts) <= settings.PASSWORD_RESETS_PER_HOUR


def _count(key: str) -> int:
    cache.add(key, 0, timeout=HOUR)
    try:
        return cache.incr(key)
    except ValueError:  # the hour ended between add and incr
        cache.set(key, 1, timeout=HOUR)
        return 1


class ThrottledPasswordResetForm(PasswordResetForm):
    """Over the limit nothing is sent, and the page says "check your mail" all the same:
    it tells a stranger no more than Django's own form does."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not reset_allowed(request=kwargs["request"], email=self.cleaned_data["email"]):
            logger.warning("Password reset refused: too many requests within the hour.")
            return
        super().save(*args, **kwargs)
