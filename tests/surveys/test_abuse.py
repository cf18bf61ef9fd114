"""Public-link abuse: ballot stuffing is limited, baited, traceable and excludable, and
respondents cannot add rows to the staff's breakdowns."""

import re
from datetime import date
from unittest import mock

import pytest
import redis
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from metrics import dashboard, followups, queue_counts, rollups
from metrics.models import FollowUp, ScoreRollup
from metrics.processing import process_response
from surveys import clients
from surveys.models import Response, Survey
from surveys.services import exclude_burst
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory, answer
from tests.surveys.test_admin import _change_data

pytestmark = pytest.mark.django_db

UNREACHABLE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        # Nothing listens on port 1: every call fails at once.
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


def _url(survey, query=""):
    return reverse("surveys:respond", args=[survey.slug]) + query


def _post(client, survey, query="", score="0", **extra):
    return client.post(_url(survey, query), {"q1": score}, **extra)


def test_the_eleventh_post_in_a_minute_is_refused_in_the_respondents_language(client, nps_survey):
    for _ in range(10):
        assert _post(client, nps_survey).status_code == 302

    refused = _post(client, nps_survey)

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    html = refused.content.decode()
    assert '<html lang="nl">' in html
    assert "Probeer het later opnieuw" in html
    assert Response.objects.count() == 10


def test_the_refusal_is_in_english_when_the_link_asks_for_it(client, nps_survey, settings):
    settings.PUBLIC_POSTS_PER_MINUTE = 1
    _post(client, nps_survey, "?lang=en")

    refused = _post(client, nps_survey, "?lang=en")

    assert refused.status_code == 429
    assert "Please try again later" in refused.content.decode()


def test_the_day_has_its_own_limit(client, nps_survey, settings):
    settings.PUBLIC_POSTS_PER_MINUTE = 100
    settings.PUBLIC_POSTS_PER_DAY = 3
    statuses = [_post(client, nps_survey).status_code for _ in range(4)]

    assert statuses == [302, 302, 302, 429]
    assert Response.objects.count() == 3


def test_the_limit_is_per_survey_and_client(client, nps_survey, settings):
    settings.PUBLIC_POSTS_PER_MINUTE = 1
    other_survey = SurveyFactory(template="nps")
    _post(client, nps_survey)

    assert _post(client, other_survey).status_code == 302
    assert _post(client, nps_survey, REMOTE_ADDR="198.51.100.4").status_code == 302
    assert _post(client, nps_survey).status_code == 429


def test_a_forged_forwarded_for_header_does_not_evade_the_limit(client, nps_survey, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.PUBLIC_POSTS_PER_MINUTE = 2
    statuses = [
        _post(client, nps_survey, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(3)
    ]

    assert statuses == [302, 302, 429]


def test_a_get_is_never_limited(client, nps_survey, settings):
    settings.PUBLIC_POSTS_PER_MINUTE = 1
    _post(client, nps_survey)

    assert client.get(_url(nps_survey)).status_code == 200


def test_personal_invitations_are_limited_too(client, settings):
    settings.PUBLIC_POSTS_PER_MINUTE = 1
    invitation = InvitationFactory()
    url = reverse("surveys:respond_invitation", args=[invitation.token])
    client.post(url, {"q1": "x"})  # not a valid answer, but a post all the same

    assert client.post(url, {"q1": "9"}).status_code == 429
    assert not Response.objects.exists()


@override_settings(CACHES=UNREACHABLE_CACHE, PUBLIC_POSTS_PER_MINUTE=1)
def test_answers_are_saved_while_the_cache_is_down(client, nps_survey):
    with pytest.raises(redis.ConnectionError):
        cache.get("any")

    statuses = [_post(client, nps_survey).status_code for _ in range(2)]

    assert statuses == [302, 302]
    assert Response.objects.count() == 2


@override_settings(CACHES=UNREACHABLE_CACHE)
def test_after_the_cache_failed_the_next_answers_do_not_ask_it(client, nps_survey):
    _post(client, nps_survey)
    with mock.patch.object(redis.client.Pipeline, "execute") as execute:
        statuses = [_post(client, nps_survey).status_code for _ in range(3)]

    assert statuses == [302, 302, 302]
    execute.assert_not_called()
    assert Response.objects.count() == 4


def test_the_honeypot_is_hidden_from_people(client, nps_survey):
    html = client.get(_url(nps_survey)).content.decode()

    assert 'class="leave-empty"' in html
    assert 'aria-hidden="true"' in html
    assert 'name="website"' in html
    assert 'tabindex="-1"' in html


def test_a_filled_honeypot_is_thanked_and_stores_nothing(client, nps_survey):
    page = client.post(_url(nps_survey, "?lang=en"), {"q1": "0", "website": "http://spam"})

    assert page.status_code == 302
    assert page["Location"] == reverse("surveys:thanks", args=[nps_survey.slug]) + "?lang=en"
    assert not Response.objects.exists()


def test_a_public_answer_keeps_a_fingerprint_and_not_the_address(client, nps_survey):
    _post(client, nps_survey, REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="Phone/1.0")
    _post(client, nps_survey, REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="Phone/1.0")
    _post(client, nps_survey, REMOTE_ADDR="198.51.100.24", HTTP_USER_AGENT="Phone/1.0")

    first, second, third = Response.objects.order_by("pk")
    assert len(first.fingerprint) == 64
    assert first.fingerprint == second.fingerprint != third.fingerprint
    stored = str(Response.objects.values().get(pk=first.pk))
    assert "198.51.100.23" not in stored


def test_the_fingerprint_changes_with_the_day(rf, monkeypatch):
    request = rf.post("/", REMOTE_ADDR="198.51.100.23")
    monkeypatch.setattr(clients.timezone, "localdate", lambda: date(2026, 3, 2))
    monday = clients.fingerprint(request)
    monkeypatch.setattr(clients.timezone, "localdate", lambda: date(2026, 3, 3))

    assert clients.fingerprint(request) not in (monday, "")


def test_unknown_touchpoints_and_channels_count_as_other_and_keep_their_value(client):
    survey = SurveyFactory(
        template="nps",
        touchpoint="delivery",
        known_touchpoints="support\nshop",
        known_channels="sms",
    )
    for query in [
        "?touchpoint=support&channel=sms",
        "?touchpoint=x7f3&channel=zz",
        "",
        "?channel=qr",
    ]:
        _post(client, survey, query)

    counted = list(Response.objects.order_by("pk").values_list("touchpoint", "channel"))
    assert counted == [
        ("support", "sms"),
        ("other", "other"),
        ("delivery", "link"),
        ("delivery", "qr"),
    ]
    assert Response.objects.order_by("pk")[1].metadata == {"touchpoint": "x7f3", "channel": "zz"}


def test_a_public_link_never_records_the_invitation_channel(client, nps_survey):
    Survey.objects.filter(pk=nps_survey.pk).update(known_channels="invitation")

    _post(client, nps_survey, "?channel=invitation")

    assert Response.objects.get().channel == "other"


def test_a_personal_invitation_records_its_channel(client):
    invitation = InvitationFactory()
    client.post(reverse("surveys:respond_invitation", args=[invitation.token]), {"q1": "9"})

    response = Response.objects.get()
    assert response.channel == "invitation"
    assert response.fingerprint == ""


@pytest.mark.postgres
@pytest.mark.redis
def test_the_limit_is_counted_in_redis_which_every_web_process_shares(client, nps_survey, settings):
    settings.PUBLIC_POSTS_PER_MINUTE = 2
    assert isinstance(caches["default"], RedisCache)

    statuses = [_post(client, nps_survey).status_code for _ in range(3)]

    assert statuses == [302, 302, 429]
    assert Response.objects.count() == 2
    server = redis.Redis.from_url(settings.REDIS_URL)
    assert server.keys(f"*public-posts:{nps_survey.slug}:*")


@pytest.mark.postgres
@pytest.mark.redis
def test_the_day_counts_in_redis_too_and_each_window_ends(client, nps_survey, settings):
    settings.PUBLIC_POSTS_PER_MINUTE = 100
    settings.PUBLIC_POSTS_PER_DAY = 2

    statuses = [_post(client, nps_survey).status_code for _ in range(3)]

    assert statuses == [302, 302, 429]
    server = redis.Redis.from_url(settings.REDIS_URL)
    windows = {
        key.decode().rsplit(":", 1)[1][0]: server.ttl(key)
        for key in server.keys(f"*public-posts:{nps_survey.slug}:*")
    }
    assert 0 < windows["m"] <= 60
    assert 0 < windows["d"] <= 24 * 60 * 60


def test_staff_see_unknown_touchpoints_together_as_other(client, manager, settings):
    survey = SurveyFactory(template="nps", known_touchpoints="support")
    for query in ["?touchpoint=support", "?touchpoint=x1", "?touchpoint=x2"]:
        _post(client, survey, query, score="9")
    for response in Response.objects.all():
        process_response(response_id=response.pk)
    client.force_login(manager)

    page = client.get(reverse("metrics:survey", args=[survey.pk]), HTTP_ACCEPT_LANGUAGE="nl")

    html = page.content.decode()
    rows = re.findall(r"<tr><td>([^<]*)</td>", html)
    assert "Overig" in rows and "support" in rows
    assert not {"x1", "x2"} & set(rows)
    assert set(
        ScoreRollup.objects.filter(survey=survey, dimension="touchpoint").values_list(
            "member", flat=True
        )
    ) == {"support", "other"}


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")


def _stuffed(client, survey):
    """Six detractors from one client and two promoters from two others, processed."""
    for _ in range(6):
        _post(client, survey, score="0", REMOTE_ADDR="203.0.113.66")
    for address in ["198.51.100.1", "198.51.100.2"]:
        _post(client, survey, score="10", REMOTE_ADDR=address)
    for response in Response.objects.filter(survey=survey):
        process_response(response_id=response.pk)


def _nps(survey):
    headline = dashboard.all_time(survey)
    return headline.score.value, headline.score.n


def test_staff_exclude_a_burst_from_the_scores_and_include_it_again(client, nps_survey, superuser):
    _stuffed(client, nps_survey)
    assert _nps(nps_survey) == (-50, 8)
    client.force_login(superuser)
    url = reverse("admin:surveys_survey_bursts", args=[nps_survey.pk])

    page = client.get(url)
    (burst,) = page.context["bursts"]
    assert (burst.responses, burst.excluded) == (6, 0)
    assert "Their open follow-up cases are resolved" in page.content.decode()

    excluded = client.post(
        url, {"fingerprint": burst.fingerprint, "action": "exclude"}, follow=True
    )

    assert "6 answers were excluded from the scores" in excluded.content.decode()
    assert _nps(nps_survey) == (100, 2)
    assert Response.objects.filter(excluded_at__isnull=False).count() == 6
    assert excluded.context["bursts"][0].is_excluded

    included = client.post(
        url, {"fingerprint": burst.fingerprint, "action": "include"}, follow=True
    )

    assert "6 answers count in the scores again" in included.content.decode()
    assert _nps(nps_survey) == (-50, 8)
    assert rollups.recompute_rollups(surveys=[nps_survey]).cells == 0


def test_a_burst_s_cases_are_resolved_when_it_is_excluded_and_reopened_when_it_counts_again(
    client, nps_survey, superuser, agent
):
    """Nobody is there to call back: the flood's cases leave the queue with it."""
    _stuffed(client, nps_survey)
    flood = FollowUp.objects.filter(response__fingerprint__gt="").order_by("pk")
    assert flood.count() == 6
    worked = flood.first()
    followups.resolve(followup=worked, by=agent, resolution="Called: a test by the shop")
    fingerprint = Response.objects.get(followup=worked).fingerprint
    client.force_login(superuser)
    url = reverse("admin:surveys_survey_bursts", args=[nps_survey.pk])

    client.post(url, {"fingerprint": fingerprint, "action": "exclude"})

    assert set(flood.values_list("status", flat=True)) == {"resolved"}
    set_aside = flood.exclude(pk=worked.pk)
    assert all(c.notes.last().kind == "excluded" for c in set_aside)
    assert "Open (0)" in client.get(reverse("metrics:queue")).content.decode()
    case_page = reverse("metrics:followup", args=[set_aside.first().pk])
    for language, why in [
        ("en", "Its answer was excluded from the scores, with a burst of answers from one client."),
        ("nl", "Het antwoord is uitgesloten van de scores, samen met een reeks antwoorden"),
    ]:
        assert why in client.get(case_page, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    client.post(url, {"fingerprint": fingerprint, "action": "include"})

    assert set(set_aside.values_list("status", flat=True)) == {"in_progress"}
    assert all(c.notes.last().kind == "included" for c in set_aside)
    worked.refresh_from_db()
    assert worked.status == "resolved"  # an agent's own resolution stays
    assert worked.resolution == "Called: a test by the shop"
    assert queue_counts.recompute() == 0


def test_an_excluded_answer_that_was_not_processed_yet_is_never_counted(client, nps_survey):
    for _ in range(5):
        _post(client, nps_survey, score="0")
    fingerprint = Response.objects.values_list("fingerprint", flat=True).first()
    exclude_burst(survey=nps_survey, fingerprint=fingerprint)

    for response in Response.objects.all():
        process_response(response_id=response.pk)

    assert _nps(nps_survey) == (None, 0)
    assert not FollowUp.objects.exists()
    assert rollups.recompute_rollups(surveys=[nps_survey]).cells == 0


def test_a_burst_of_bad_input_changes_nothing(client, nps_survey, superuser):
    _stuffed(client, nps_survey)
    client.force_login(superuser)
    url = reverse("admin:surveys_survey_bursts", args=[nps_survey.pk])

    page = client.post(url, {"fingerprint": "nonsense\x00", "action": "exclude"}, follow=True)

    assert page.status_code == 200
    assert "Nothing changed." in page.content.decode()
    assert not Response.objects.filter(excluded_at__isnull=False).exists()


def test_only_staff_who_may_change_the_survey_see_its_bursts(client, nps_survey, manager):
    client.force_login(manager)

    page = client.get(reverse("admin:surveys_survey_bursts", args=[nps_survey.pk]))

    assert page.status_code == 403


def test_staff_list_the_known_touchpoints_and_channels_in_the_admin(admin_client):
    survey = SurveyFactory(template="nps")
    url = reverse("admin:surveys_survey_change", args=[survey.pk])
    data = {"known_touchpoints": "support\r\n\r\n  shop \r\n", "known_channels": "sms"}

    page = admin_client.post(url, _change_data(survey, **data))

    assert page.status_code == 302
    survey.refresh_from_db()
    assert survey.counted_touchpoint("shop") == "shop"
    assert survey.counted_channel("sms", invited=False) == "sms"


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ("support\n" + "x" * 101, "is longer than 100 characters."),
        ("sup\x07port", "Contains a control character; please remove it."),
    ],
)
def test_a_known_touchpoint_the_links_cannot_give_is_refused(admin_client, listed, message):
    survey = SurveyFactory(template="nps")
    url = reverse("admin:surveys_survey_change", args=[survey.pk])

    page = admin_client.post(url, _change_data(survey, known_touchpoints=listed))

    assert page.status_code == 200
    assert message in page.content.decode()
    survey.refresh_from_db()
    assert survey.known_touchpoints == ""


@pytest.mark.django_db(transaction=True)
def test_values_in_use_before_the_upgrade_stay_known():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("surveys", "0006_reach_customers")], [("surveys", "0007_public_link_abuse")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    survey = old.get_model("surveys", "Survey").objects.create(
        name="Old", company="Acme", kind="nps", touchpoint="delivery"
    )
    Response = old.get_model("surveys", "Response")
    for touchpoint, channel, times in [("support", "sms", 5), ("x7f3", "zz", 1), ("", "qr", 6)]:
        for _ in range(times):
            Response.objects.create(
                survey=survey,
                submitted_at=timezone.now(),
                language="en",
                touchpoint=touchpoint,
                channel=channel,
            )

    executor = MigrationExecutor(connection)
    try:
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        upgraded = new.get_model("surveys", "Survey").objects.get(pk=survey.pk)
        assert (upgraded.known_touchpoints, upgraded.known_channels) == ("support", "sms")
    finally:
        # Later migrations add columns the next tests need.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_answers_without_a_fingerprint_are_never_a_burst(nps_survey):
    answer(nps_survey, 0, customer=CustomerFactory())

    assert exclude_burst(survey=nps_survey, fingerprint="") == 0
    assert not Response.objects.filter(excluded_at__isnull=False).exists()


# With REDIS_URL the settings give the cache its timeouts; they are what is tested.
@pytest.mark.redis
def test_a_redis_that_does_not_answer_lets_the_answer_through(client, nps_survey, settings):
    import socket

    # Accepts the connection, then never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    try:
        with override_settings(
            CACHES={
                "default": {
                    **UNREACHABLE_CACHE["default"],
                    "LOCATION": f"redis://127.0.0.1:{port}/0",
                    "OPTIONS": settings.CACHES["default"]["OPTIONS"],
                }
            }
        ):
            page = _post(client, nps_survey)
    finally:
        silent.close()

    assert page.status_code == 302
    assert Response.objects.count() == 1
