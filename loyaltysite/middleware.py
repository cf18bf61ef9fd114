"""Response headers of every page: Content-Security-Policy (django-csp, with a survey's
own frame-ancestors), Permissions-Policy, and no caching of what staff see; and no body
in the answer to a HEAD."""

from collections.abc import Callable

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers

# Powerful browser features no page of ours uses: nothing on the site, nor a page framing
# it, may ask for them.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy, whose frame-ancestors a response may replace with the origins
    in its `frame_ancestors` (a survey embeddable on its own sites, surveys.views)."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origins = getattr(response, "frame_ancestors", None)
        if origins:
            parts.replace = {**(parts.replace or {}), "frame-ancestors": origins}
        return parts


def security_headers(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        # Staff pages and exports hold personal data: no browser or proxy keeps a copy.
        # The session is read only when there is one, so respondents' pages stay free
        # of it (and of Vary: Cookie).
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            add_never_cache_headers(response)
        return response

    return middleware


def head_without_body(get_response: Callable[[HttpRequest], HttpResponseBase]) -> Callable:
    """A HEAD is answered with the headers of the GET and no body (RFC 9110), as Django's
    development server does. Gunicorn drops a body itself, but logs a warning for each:
    uptime checks and link previews send HEADs all day."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        if request.method != "HEAD":
            return response
        if isinstance(response, StreamingHttpResponse):  # a file too
            response.streaming_content = []
        elif isinstance(response, HttpResponse):
            # The GET's length: CommonMiddleware sets it on pages, not on every response.
            response.headers.setdefault("Content-Length", str(len(response.content)))
            response.content = b""
        return response

    return middleware
