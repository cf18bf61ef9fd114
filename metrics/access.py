"""Who may read the dashboards: survey managers and support agents (and superusers)."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

MANAGERS = "Survey managers"
AGENTS = "Support agents"


def can_read_dashboard(user: Any) -> bool:
    return user.is_active and (
        user.is_superuser or user.groups.filter(name__in=[MANAGERS, AGENTS]).exists()
    )


def dashboard_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Login required; a logged-in user outside both groups gets 403."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not can_read_dashboard(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(checked)
