"""Resetting and changing a password happens on the site's own pages, in the staff's
language, not on the admin's "Django administration" pages."""

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

ADMIN_LOOK = ("Django administration", "Django-beheer", "Django site admin", 'id="header"')


@pytest.fixture
def staff(db):
    return User.objects.create_user("staff", "staff@example.com", "old-password-1", is_staff=True)


def _site_page(page, heading):
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<h1 class="h3 mb-4">{heading}</h1>' in html
    assert not [look for look in ADMIN_LOOK if look in html]
    return html


@pytest.mark.parametrize(
    ("language", "headings"),
    [
        (
            "en",
            [
                "Reset your password",
                "Check your email",
                "Choose a new password",
                "Your new password is saved",
            ],
        ),
        (
            "nl",
            [
                "Nieuw wachtwoord instellen",
                "Kijk in uw e-mail",
                "Kies een nieuw wachtwoord",
                "Uw nieuwe wachtwoord is opgeslagen",
            ],
        ),
    ],
)
def test_a_password_is_reset_by_email_on_the_sites_own_pages(client, staff, language, headings):
    asking, sent, choosing, saved = headings
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    login = client.get(reverse("login"), **headers).content.decode()
    assert f'href="{reverse("password_reset")}"' in login

    _site_page(client.get(reverse("password_reset"), **headers), asking)
    done = client.post(reverse("password_reset"), {"email": staff.email}, follow=True, **headers)
    _site_page(done, sent)

    (email,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", email.body).group(1)
    form = client.get(link, follow=True, **headers)
    _site_page(form, choosing)
    new = {"new_password1": "a-new-Passw0rd-9", "new_password2": "a-new-Passw0rd-9"}
    _site_page(client.post(form.redirect_chain[-1][0], new, follow=True, **headers), saved)
    staff.refresh_from_db()
    assert staff.check_password("a-new-Passw0rd-9")


@pytest.mark.parametrize(
    ("language", "heading"),
    [("en", "This link no longer works"), ("nl", "Deze link werkt niet meer")],
)
def test_a_used_or_broken_reset_link_says_so_and_offers_a_new_one(client, language, heading):
    page = client.get(
        reverse("password_reset_confirm", args=["MQ", "set-password"]),
        HTTP_ACCEPT_LANGUAGE=language,
    )

    html = _site_page(page, heading)
    assert f'href="{reverse("password_reset")}"' in html


def test_a_password_is_changed_on_the_sites_own_page(client, staff):
    client.force_login(staff)
    _site_page(client.get(reverse("password_change")), "Change your password")

    done = client.post(
        reverse("password_change"),
        {
            "old_password": "old-password-1",
            "new_password1": "a-new-Passw0rd-9",
            "new_password2": "a-new-Passw0rd-9",
        },
        follow=True,
    )

    _site_page(done, "Your new password is saved")
