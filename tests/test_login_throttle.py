"""Guessing passwords locks the user name out from that address for a while, and password
reset emails are limited per client and per email address."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff", "staff@example.com", "right-password", is_staff=True)


def _log_in(client, password, url=None, **headers):
    url = url or reverse("login")
    return client.post(url, {"username": "staff", "password": password}, **headers)


def test_the_limit_of_failed_logins_locks_the_user_name_out_even_with_the_right_password(
    client, staff, settings
):
    failures = [_log_in(client, "wrong") for _ in range(settings.LOGIN_FAILURE_LIMIT - 1)]
    assert [page.status_code for page in failures] == [200] * (settings.LOGIN_FAILURE_LIMIT - 1)

    locked = _log_in(client, "wrong")
    after = _log_in(client, "right-password")

    assert locked.status_code == after.status_code == 429
    html = after.content.decode()
    assert "Too many failed logins" in html
    assert f"paused for {settings.LOGIN_COOLOFF_MINUTES} minutes" in html
    assert "_auth_user_id" not in client.session


def test_the_lockout_page_is_in_dutch_for_a_dutch_browser(client, staff, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _log_in(client, "wrong")

    page = _log_in(client, "right-password", headers={"accept-language": "nl"})

    assert page.status_code == 429
    assert "Te vaak verkeerd ingelogd" in page.content.decode()


def test_after_the_cool_off_the_right_password_works_again(client, staff, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _log_in(client, "wrong")
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES + 1)
    )

    page = _log_in(client, "right-password")

    assert page.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_the_admin_login_counts_and_locks_out_too(client, staff, settings):
    url = reverse("admin:login")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _log_in(client, "wrong", url=url)

    assert _log_in(client, "right-password", url=url).status_code == 429
    assert _log_in(client, "right-password").status_code == 429


def test_a_lockout_holds_for_one_client_address_only(client, staff, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _log_in(client, "wrong", REMOTE_ADDR="203.0.113.9")

    assert _log_in(client, "right-password", REMOTE_ADDR="203.0.113.9").status_code == 429
    assert _log_in(client, "right-password", REMOTE_ADDR="198.51.100.7").status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_lockout(client, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        _log_in(client, "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    page = _log_in(client, "right-password", HTTP_X_FORWARDED_FOR="10.0.0.99")

    assert page.status_code == 429


def test_behind_a_trusted_proxy_the_client_it_saw_is_locked_out(client, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _log_in(client, "wrong", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert _log_in(client, "right-password", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    assert _log_in(client, "right-password", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 302


def _reset(client, email, **headers):
    return client.post(reverse("password_reset"), {"email": email}, **headers)


def test_password_resets_for_one_address_are_limited_and_the_page_stays_the_same(
    client, staff, settings
):
    pages = [_reset(client, "staff@example.com", REMOTE_ADDR=f"198.51.100.{n}") for n in range(10)]

    assert len(mail.outbox) == settings.PASSWORD_RESETS_PER_HOUR
    assert {page.status_code for page in pages} == {302}
    assert {page["Location"] for page in pages} == {reverse("password_reset_done")}


def test_password_resets_from_one_client_are_limited(client, settings):
    for n in range(10):
        User.objects.create_user(f"user{n}", f"user{n}@example.com", "pw")

    pages = [_reset(client, f"USER{n}@example.com") for n in range(10)]

    assert len(mail.outbox) == settings.PASSWORD_RESETS_PER_HOUR
    assert {page["Location"] for page in pages} == {reverse("password_reset_done")}


def test_the_count_starts_again_the_next_hour(client, staff, settings):
    for _ in range(settings.PASSWORD_RESETS_PER_HOUR + 1):
        _reset(client, "staff@example.com")
    cache.clear()  # what the hour's expiry does

    _reset(client, "staff@example.com")

    assert len(mail.outbox) == settings.PASSWORD_RESETS_PER_HOUR + 1


# Nothing listens on port 1: the cache fails at once, as a Redis that is down does.
@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
)
def test_with_the_cache_down_a_password_reset_is_still_sent(client, staff):
    page = _reset(client, "staff@example.com")

    assert page.status_code == 302
    assert len(mail.outbox) == 1


def test_the_lockouts_in_the_admin_speak_dutch(admin_client, staff):
    """django-axes ships no Dutch: the project's catalogue gives its admin pages Dutch."""
    for _ in range(3):
        _log_in(Client(), "wrong-password")

    index = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    attempts = admin_client.get(
        reverse("admin:axes_accessattempt_changelist"), HTTP_ACCEPT_LANGUAGE="nl"
    ).content.decode()

    assert "Inlogpogingen" in index and "Mislukte inlogpogingen" in index
    assert "Access attempts" not in index
    assert "Gebruikersnaam" in attempts and "IP-adres" in attempts
    assert "Tijdstip van poging" in attempts and "Attempt Time" not in attempts
