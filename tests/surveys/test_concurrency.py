"""One response per invitation, even when the same link is posted many times at once."""

import threading

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from surveys.models import Answer, Response
from tests.factories import InvitationFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SENDERS = 30


# Thirty posts from one client at once: within the rate limit, so that what is tested is
# the database's guarantee.
@override_settings(PUBLIC_POSTS_PER_MINUTE=SENDERS, PUBLIC_POSTS_PER_DAY=SENDERS)
def test_concurrent_posts_with_one_token_store_exactly_one_response():
    invitation = InvitationFactory(survey__language="en")
    url = reverse("surveys:respond_invitation", args=[invitation.token])
    start = threading.Barrier(SENDERS)
    statuses: list[int] = []
    texts: list[str] = []

    def send(score: int) -> None:
        client = Client(raise_request_exception=False)
        try:
            start.wait()
            page = client.post(url, {"q1": str(score), "q2": f"attempt {score}"})
            statuses.append(page.status_code)
            texts.append(page.content.decode())
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i % 11,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(statuses) == SENDERS
    assert 500 not in statuses
    assert statuses.count(302) == 1
    assert statuses.count(200) == SENDERS - 1
    assert all("You have already answered" in t for t in texts if "<html" in t)
    response = Response.objects.get()
    assert response.invitation == invitation
    assert Answer.objects.filter(response=response).count() == 2
    invitation.refresh_from_db()
    assert invitation.responded_at == response.submitted_at
