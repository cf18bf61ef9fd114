"""A HEAD is answered with the GET's headers and no body, by the application itself.

Django's test client and development server drop a HEAD's body on their own, so these
tests call the WSGI application as gunicorn does: gunicorn drops the body too, but logs
a warning for every HEAD (uptime checks, link previews).
"""

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import FileResponse
from django.test import RequestFactory
from django.urls import reverse

from loyaltysite.middleware import head_without_body
from metrics import tasks
from tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db


def _served(method: str, path: str) -> tuple[str, dict[str, str], bytes]:
    """What a WSGI server is handed: the status, the headers and the body."""
    started: dict[str, object] = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=dict(headers))

    environ = RequestFactory().generic(method, path).environ
    # As the test client does: the test's connection (and its transaction) outlives the
    # request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = WSGIHandler()(environ, start_response)
        body = b"".join(result)
        result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return started["status"], started["headers"], body


@pytest.mark.parametrize(
    ("page", "opened_before"),
    [("survey", False), ("survey", True), ("healthz", False), ("login", False)],
)
def test_a_head_has_the_gets_headers_and_no_body(page, opened_before):
    survey = SurveyFactory(template="nps")
    tasks.sweep_responses.apply()  # a recent sweep, so that /healthz is healthy
    path = {
        "survey": reverse("surveys:respond", args=[survey.slug]),
        "healthz": reverse("metrics:healthz"),
        "login": reverse("admin:login"),
    }[page]
    if opened_before:
        _served("GET", path)  # the form kept rendered, and answered from what was kept

    status, headers, body = _served("HEAD", path)
    get_status, get_headers, get_body = _served("GET", path)

    assert status == get_status == "200 OK"
    assert body == b""
    assert get_body
    assert headers["Content-Length"] == str(len(get_body))
    assert headers["Content-Type"] == get_headers["Content-Type"]


def test_a_head_of_a_file_sends_none_of_it_and_closes_it(tmp_path):
    """Downloads (exports) stream: a HEAD sends none of the stream, and the file is closed
    when the response is."""
    export = tmp_path / "export.csv"
    export.write_text("survey,score\nAcme,9\n")
    opened = export.open("rb")
    respond = head_without_body(lambda request: FileResponse(opened, as_attachment=True))

    response = respond(RequestFactory().head("/export.csv"))

    assert b"".join(response) == b""
    assert response["Content-Length"] == str(export.stat().st_size)
    response.close()
    assert opened.closed
