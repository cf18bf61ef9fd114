"""Staff logins and password resets, throttled against guessing and against mail floods.

Failed logins are counted by django-axes (settings: LOGIN_FAILURE_LIMIT,
LOGIN_COOLOFF_MINUTES); password reset requests here, in the cache, per client address
and per email address (PASSWORD_RESETS_PER_HOUR), with the public link's counter
(surveys.ratelimit): while the cache is down, resets are sent.
"""

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from surveys import ratelimit

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
    counts = ratelimit.count(
        [
            (f"password-reset:client:{ratelimit.hashed_client(request)}", HOUR),
            (f"password-reset:email:{address}", HOUR),
        ]
    )
    return counts is None or max(counts) <= settings.PASSWORD_RESETS_PER_HOUR


class ThrottledPasswordResetForm(PasswordResetForm):
    """Over the limit nothing is sent, and the page says "check your mail" all the same:
    it tells a stranger no more than Django's own form does."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not reset_allowed(request=kwargs["request"], email=self.cleaned_data["email"]):
            logger.warning("Password reset refused: too many requests within the hour.")
            return
        super().save(*args, **kwargs)
