"""Who may use the REST API, for what, and how often: Bearer keys (surveys.api_keys),
their scopes and survey, a rate limit per key, and every error as JSON.

The endpoints themselves live beside each app's services (surveys.api, metrics.api);
loyaltysite.api_urls puts them together.
"""

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.throttling import BaseThrottle

from surveys.api_keys import key_for
from surveys.models import ApiKey, Survey
from surveys.ratelimit import MINUTE, count
from surveys.text import validate_no_control_characters

if TYPE_CHECKING:
    # DRF imports this module while its views module loads (its settings name it).
    from rest_framework.views import APIView


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`. No header: anonymous, which every endpoint refuses
    with 401; a header with anything but a live key: 401 at once."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        kind, _space, presented = header.partition(" ")
        if kind.lower() != "bearer" or not presented.strip():
            raise exceptions.AuthenticationFailed(
                _("Give the key as: Authorization: Bearer <key>.")
            )
        api_key = key_for(presented.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("This API key is unknown or revoked."))
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class HasScope(BasePermission):
    """Reading needs the `read` scope; anything else the view's `scope` (`write` unless
    it says otherwise)."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False  # 401, with the WWW-Authenticate header
        if request.method in SAFE_METHODS:
            needed = ApiKey.Scope.READ
        else:
            needed = getattr(view, "scope", ApiKey.Scope.WRITE)
        if not api_key.allows(needed):
            self.message = _("This API key lacks the %(scope)s scope.") % {"scope": needed}
            return False
        return True


class PerKeyRateLimit(BaseThrottle):
    """API_REQUESTS_PER_MINUTE per key, counted as the public answers are (and, like them,
    let through while the cache cannot be reached)."""

    def allow_request(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        now = time.time()
        self.seconds_left = MINUTE - int(now % MINUTE)
        counts = count([(f"api:{api_key.prefix}:m{int(now // MINUTE)}", MINUTE)])
        return counts is None or counts[0] <= settings.API_REQUESTS_PER_MINUTE

    def wait(self) -> float:
        return self.seconds_left


def key_of(request: Request) -> ApiKey:
    api_key = request.auth
    assert isinstance(api_key, ApiKey)  # noqa: S101 - HasScope let the request in
    return api_key


class Pages(CursorPagination):
    """Every list's pages: by id, so a row saved while someone pages comes at the end and
    none is skipped or repeated."""

    ordering = "pk"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def query_text(request: Request, name: str) -> str | None:
    """A query parameter, or None when it is not given; 400 for one that is not text
    (a NUL or another control character, which no column may hold)."""
    given = request.query_params.get(name)
    if given is not None and not given.isprintable():
        raise exceptions.ValidationError({name: [_("Not a valid value.")]})
    return given


def of_its_survey(request: Request, found: QuerySet[Any]) -> QuerySet[Any]:
    """`found` (rows with a survey), narrowed to the key's survey if it is for one."""
    api_key = key_of(request)
    return found.filter(survey_id=api_key.survey_id) if api_key.survey_id else found


def survey_of(request: Request, slug: str) -> Survey:
    """The survey with this slug, if the key may see it: 404 if there is none, 403 if the
    key is for another survey."""
    survey = Survey.objects.filter(slug=slug).first() if slug.isprintable() else None
    if survey is None:
        raise exceptions.NotFound(_("There is no survey %(slug)s.") % {"slug": slug[:60]})
    api_key = key_of(request)
    if api_key.survey_id and api_key.survey_id != survey.pk:
        raise exceptions.PermissionDenied(_("This API key is for another survey."))
    return survey


def every_survey(request: Request) -> None:
    """Refuse a key that is for one survey only (for data that is not any one survey's)."""
    api_key = key_of(request)
    if api_key.survey_id:
        raise exceptions.PermissionDenied(
            _("This API key is for one survey only; this needs a key for all surveys.")
        )


class CheckedCharField(serializers.CharField):
    """Text as the site accepts it anywhere: without control characters (DRF's own
    fields already refuse NUL)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(validate_no_control_characters)


class ByRefList(serializers.ListSerializer):
    """A list of rows created or updated by `ref`: at least one, at most `most`, and each
    ref once (which of two rows with one ref is meant cannot be told)."""

    most = 1000

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=self.most, allow_empty=False, **kwargs)

    def validate(self, attrs: Any) -> Any:
        given = Counter(row["ref"] for row in attrs)
        repeated = sorted(ref for ref, times in given.items() if times > 1)
        if repeated:
            raise serializers.ValidationError(
                _("Each reference once per request: %(refs)s is given more than once.")
                % {"refs": ", ".join(repeated[:3])}
            )
        return attrs


def errors_as_json(exc: Exception, context: dict[str, Any]) -> ApiResponse | None:
    """Every error as `{"message": ..., "field": ...}`; a refused body also with `errors`,
    DRF's own account by field."""
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_error(response.data)
        response.data = {"message": message, "field": field, "errors": response.data}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        response.data = {"message": str(detail), "field": None}
    return response


def _first_error(detail: Any, path: str = "") -> tuple[str | None, str]:
    """The first message in a ValidationError's detail and where it is (`email`,
    `3.email` for the fourth of a list, or None for the body as a whole)."""
    if isinstance(detail, dict):
        for name, inner in detail.items():
            if inner:
                where = path if name == "non_field_errors" else f"{path}{name}"
                return _first_error(inner, f"{where}." if where else "")
    if isinstance(detail, list):
        if detail and all(isinstance(item, str) for item in detail):
            return (path.rstrip(".") or None), str(detail[0])
        for index, inner in enumerate(detail):
            if inner:
                return _first_error(inner, f"{path}{index}.")
    return (path.rstrip(".") or None), str(detail)
