import pytest
from django.test import RequestFactory

from surveys.clients import client_address


def _request(forwarded: str | None = None):
    extra = {"REMOTE_ADDR": "10.0.0.9"}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().post("/s/x/", **extra)


def test_without_trusted_proxies_a_forged_header_changes_nothing(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(_request("1.2.3.4")) == "10.0.0.9"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "client"),
    [
        (1, "203.0.113.7", "203.0.113.7"),
        # The client wrote 1.2.3.4 itself; the one proxy appended the real address.
        (1, "1.2.3.4, 203.0.113.7", "203.0.113.7"),
        (2, "1.2.3.4, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
    ],
)
def test_behind_trusted_proxies_the_client_is_what_the_outermost_one_saw(
    settings, proxies, forwarded, client
):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_address(_request(forwarded)) == client


def test_a_request_that_bypassed_the_proxies_is_taken_by_its_socket(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(_request()) == "10.0.0.9"
