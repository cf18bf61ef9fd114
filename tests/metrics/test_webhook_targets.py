"""Webhook and Slack channels never reach internal addresses, when saved or when sent.

Only DNS resolution (socket.getaddrinfo) is patched: names resolve to what each test says.
"""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from metrics import notifications
from metrics.models import AlertChannel, FollowUp, Notification
from metrics.processing import process_response
from surveys.services import submit_response
from tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo


def _resolving(monkeypatch, answers):
    """Names resolve to the addresses given per name (a list: one answer per lookup, the
    last one repeated); IP literals resolve as they do, to themselves."""
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        lookups.append(host)
        turns = answers[host]
        addresses = turns[min(len(lookups) - 1, len(turns) - 1)]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


class Receiver:
    def __init__(self):
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(dict(self.headers))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


def _alert(channel):
    """A detractor's case and the channel's notification of it."""
    survey = SurveyFactory(template="nps")
    question = survey.questions.get(role="nps")
    response = submit_response(survey=survey, answers={question: 2}, language="en")
    process_response(response_id=response.pk)
    return Notification.objects.get(channel=channel, followup=FollowUp.objects.get())


INTERNAL = [
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:6379/",
    "http://127.0.0.1/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.10/",
    "http://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[ff02::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
]


@pytest.mark.parametrize("kind", ["webhook", "slack"])
@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_when_saved(monkeypatch, kind, url):
    _resolving(monkeypatch, {"localhost": [["127.0.0.1", "::1"]]})
    channel = AlertChannel(name="x", kind=kind, target=url)

    with pytest.raises(ValidationError) as refused:
        channel.full_clean()

    assert "internal address" in refused.value.message_dict["target"][0]


def test_a_name_with_any_internal_address_is_refused(monkeypatch):
    _resolving(monkeypatch, {"hooks.example.com": [["93.184.215.14", "10.0.0.5"]]})
    channel = AlertChannel(
        name="x", kind="webhook", events=["followup.opened"], target="https://hooks.example.com/x"
    )

    with pytest.raises(ValidationError) as refused:
        channel.full_clean()

    assert refused.value.message_dict["target"] == [
        "hooks.example.com is an internal address (10.0.0.5): alerts only go to addresses "
        "on the internet."
    ]


def test_a_public_name_is_accepted(monkeypatch):
    _resolving(monkeypatch, {"hooks.slack.com": [["2606:4700::6810:1", "34.226.36.52"]]})
    AlertChannel(
        name="x", kind="slack", target="https://hooks.slack.com/services/T/B/x"
    ).full_clean()


def test_a_name_that_does_not_resolve_is_refused(monkeypatch):
    def not_found(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", not_found)
    channel = AlertChannel(
        name="x", kind="webhook", events=["followup.opened"], target="https://hooks.exmaple.com/x"
    )

    with pytest.raises(ValidationError) as refused:
        channel.full_clean()

    assert refused.value.message_dict["target"] == ["This address's host name could not be found."]


def test_the_setting_allows_internal_addresses(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    _resolving(monkeypatch, {"localhost": [["127.0.0.1"]]})

    AlertChannel(
        name="x", kind="webhook", events=["followup.opened"], target="http://localhost:6379/"
    ).full_clean()


@pytest.mark.parametrize(
    ("language", "message"),
    [
        (
            "en",
            "localhost is an internal address (127.0.0.1): alerts only go to addresses on "
            "the internet.",
        ),
        (
            "nl",
            "localhost is een intern adres (127.0.0.1): meldingen gaan alleen naar adressen "
            "op internet.",
        ),
    ],
)
def test_the_admin_says_why_in_the_staff_language(admin_client, monkeypatch, language, message):
    _resolving(monkeypatch, {"localhost": [["127.0.0.1"]]})

    page = admin_client.post(
        "/admin/metrics/alertchannel/add/",
        {
            "name": "Internal",
            "kind": "webhook",
            "target": "http://localhost:6379/",
            "secret": "s" * 64,
            "on_new_case": "on",
            "enabled": "on",
        },
        headers={"accept-language": language},
    )

    assert page.status_code == 200
    assert message in page.content.decode()
    assert not AlertChannel.objects.exists()


@pytest.mark.parametrize("kind", ["webhook", "slack"])
def test_a_name_resolving_inside_when_sent_fails_at_once(monkeypatch, receiver, kind):
    # Public when the channel was saved; by the time the alert is sent the name points to
    # this machine, where a receiver listens that must not be reached.
    _resolving(monkeypatch, {"hooks.example.com": [["93.184.215.14"], ["127.0.0.1"]]})
    target = f"http://hooks.example.com:{receiver.port}/hook"
    events = ["followup.opened"] if kind == "webhook" else []
    channel = AlertChannel(name="Hook", kind=kind, target=target, events=events)
    channel.full_clean()
    channel.save()
    notification = _alert(channel)

    assert notifications.attempt(notification.pk) is None

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert "hooks.example.com is an internal address (127.0.0.1)" in notification.last_error
    assert receiver.requests == []


def test_the_request_goes_to_the_address_that_was_checked(monkeypatch, receiver, settings):
    # A name answering with another address on the next lookup (DNS rebinding) does not
    # move the request: it goes where the check looked, with the name as its Host.
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    lookups = _resolving(monkeypatch, {"hooks.example.com": [["127.0.0.1"], ["127.0.0.2"]]})
    channel = AlertChannel.objects.create(
        name="Hook",
        kind="webhook",
        events=["followup.opened"],
        target=f"http://hooks.example.com:{receiver.port}/hook?a=1",
    )
    notification = _alert(channel)

    assert notifications.attempt(notification.pk) is None

    notification.refresh_from_db()
    assert notification.status == "sent"
    assert lookups == ["hooks.example.com"]
    assert receiver.requests[0]["Host"] == f"hooks.example.com:{receiver.port}"


def test_a_redirect_is_not_followed(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        channel = AlertChannel.objects.create(
            name="Hook", kind="webhook", events=["followup.opened"], target=url
        )
        notification = _alert(channel)
        assert notifications.attempt(notification.pk) is None
    finally:
        server.shutdown()
        server.server_close()

    notification.refresh_from_db()
    assert (notification.status, notification.last_error) == ("failed", f"HTTP 302 from {url}")
