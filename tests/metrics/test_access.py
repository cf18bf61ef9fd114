"""Who sees what: agents work cases but not the admin; outsiders see no case."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_agents_cannot_see_the_admin(client, agent):
    client.force_login(agent)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("admin:login"))
    assert client.get(reverse("admin:metrics_followup_changelist")).status_code == 302


def test_agents_see_the_queue_and_the_reports(client, agent):
    client.force_login(agent)
    for name in ("metrics:queue", "metrics:sla", "metrics:overview"):
        assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", ["metrics:queue", "metrics:sla"])
def test_outsiders_get_403_and_anonymous_visitors_a_login(client, outsider, name):
    anonymous = client.get(reverse(name))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    client.force_login(outsider)
    assert client.get(reverse(name)).status_code == 403
