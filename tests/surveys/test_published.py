"""Each web process keeps a public link's survey, questions and form for a few seconds.

A change made in the same process is seen at once; one made by another process (here a
queryset update() or raw SQL, which send no signal) within KEPT_SECONDS, and meanwhile
no answer is stored that the survey as it now is would refuse.
"""

import time

import psycopg
import pytest
from django.db import connection
from django.urls import reverse

from surveys import published
from surveys.models import Answer, Question, Response, Survey
from tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey():
    return SurveyFactory(template="nps", company="Acme", language="en")


def _url(survey, query=""):
    return reverse("surveys:respond", args=[survey.slug]) + query


def _later(monkeypatch):
    """Move this process's clock past the time a copy is kept."""
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + published.KEPT_SECONDS + 1)


def test_a_link_opened_again_is_answered_without_the_database(
    client, survey, django_assert_num_queries
):
    first = client.get(_url(survey))
    with django_assert_num_queries(0):
        again = client.get(_url(survey))
        dutch = client.get(_url(survey, "?lang=nl"))

    assert again.content == first.content
    assert "How likely is it that you would recommend Acme" in again.content.decode()
    assert "Hoe waarschijnlijk is het dat u Acme" in dutch.content.decode()
    assert dutch["Content-Security-Policy"] == first["Content-Security-Policy"]


def test_a_link_with_a_score_is_rendered_for_its_visitor(client, survey):
    client.get(_url(survey))

    preselected = client.get(_url(survey, "?score=3")).content.decode()
    plain = client.get(_url(survey)).content.decode()

    assert 'value="3" checked' in preselected
    assert "checked" not in plain


def test_a_change_saved_in_this_process_shows_at_once(client, survey):
    client.get(_url(survey))
    survey.name = "Winter survey"
    survey.status = Survey.Status.CLOSED
    survey.save()

    page = client.get(_url(survey))

    assert page.status_code == 410
    assert client.post(_url(survey), {"q1": "9"}).status_code == 410
    assert not Response.objects.exists()


def test_closing_surveys_with_the_admin_action_shows_at_once(admin_client, client, survey):
    client.get(_url(survey))

    admin_client.post(
        reverse("admin:surveys_survey_changelist"),
        {"action": "close", "_selected_action": [survey.pk]},
    )

    assert Survey.objects.get().status == Survey.Status.CLOSED
    assert client.get(_url(survey)).status_code == 410


def test_a_survey_closed_by_another_process_takes_no_answer(client, survey):
    client.get(_url(survey))
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.CLOSED)

    # The form is still the kept one, but the answer meets the survey as it is.
    assert client.get(_url(survey)).status_code == 200
    page = client.post(_url(survey), {"q1": "9", "q2": "Fine"})

    assert page.status_code == 410
    assert "This survey is closed" in page.content.decode()
    assert not Response.objects.exists()
    assert not Answer.objects.exists()


def test_a_survey_made_anonymous_by_another_process_keeps_nothing_personal(client, survey):
    client.get(_url(survey))
    Survey.objects.filter(pk=survey.pk).update(anonymous=True)

    page = client.post(
        _url(survey, "?ref=C-17&touchpoint=shop"),
        {"q1": "9"},
        HTTP_USER_AGENT="Phone",
        REMOTE_ADDR="203.0.113.7",
    )

    assert page.status_code == 302
    response = Response.objects.get()
    assert response.fingerprint == ""
    assert "ref" not in response.metadata
    assert response.answers.get().value == 9


def test_an_answer_to_a_question_deleted_by_another_process_is_left_out(client, survey):
    client.get(_url(survey))
    comment = survey.questions.get(role=Question.Role.COMMENT)
    with connection.cursor() as cursor:  # no signal, as from another process
        cursor.execute("DELETE FROM surveys_question WHERE id = %s", [comment.pk])

    page = client.post(_url(survey), {"q1": "4", "q2": "Too slow"})

    assert page.status_code == 302
    assert list(Answer.objects.values_list("value", "text")) == [(4, "")]


def test_a_change_by_another_process_shows_once_the_copy_expires(client, survey, monkeypatch):
    client.get(_url(survey))
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.CLOSED)
    assert client.get(_url(survey)).status_code == 200

    _later(monkeypatch)

    assert client.get(_url(survey)).status_code == 410


def test_a_survey_reopened_by_another_process_takes_answers_again(client, survey, monkeypatch):
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.CLOSED)
    assert client.get(_url(survey)).status_code == 410
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.LIVE)

    _later(monkeypatch)

    assert client.post(_url(survey), {"q1": "9"}).status_code == 302
    assert Response.objects.count() == 1


def test_a_deleted_survey_is_not_found_once_the_copy_expires(client, survey, monkeypatch):
    client.get(_url(survey))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM surveys_question WHERE survey_id = %s", [survey.pk])
        cursor.execute("DELETE FROM surveys_survey WHERE id = %s", [survey.pk])

    # Meanwhile an answer finds no live survey to be stored in.
    assert client.post(_url(survey), {"q1": "9"}).status_code == 410
    _later(monkeypatch)

    assert client.get(_url(survey)).status_code == 404
    assert not Response.objects.exists()


def test_only_so_many_surveys_are_kept(client, monkeypatch):
    monkeypatch.setattr(published, "KEPT_SURVEYS", 3)
    surveys = [SurveyFactory(template="nps") for _ in range(5)]

    for survey in surveys:
        client.get(_url(survey))

    assert list(published._kept) == [s.slug for s in surveys[-3:]]


@pytest.mark.parametrize("query", ["?lang=%01", "?lang=xx", "?lang=en&lang=nl", "?ref=%00"])
def test_a_link_with_a_bad_parameter_does_not_become_everyones_page(client, survey, query):
    client.get(_url(survey, query))

    page = client.get(_url(survey)).content.decode()

    assert "cannot accept" not in page
    assert "How likely is it that you would recommend Acme" in page
    assert client.post(_url(survey), {"q1": "9"}).status_code == 302
    assert Response.objects.count() == 1


def test_an_answer_off_a_scale_changed_by_another_process_is_asked_again(client, survey):
    client.get(_url(survey))
    Question.objects.filter(survey=survey, role=Question.Role.NPS).update(scale_max=5)

    page = client.post(_url(survey), {"q1": "9"})

    assert page.status_code == 302
    assert page["Location"] == _url(survey)
    assert not Response.objects.exists()
    # The form afresh, on the scale as it is now.
    fresh = client.get(_url(survey)).content.decode()
    assert 'value="5"' in fresh and 'value="9"' not in fresh


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement write")
@pytest.mark.django_db(transaction=True)
def test_an_answer_over_a_connection_the_database_dropped_is_saved(client, survey):
    """Between two requests the server closed the process's connection (a restart, an
    idle timeout): the answer is written over a new one, as every other page's queries
    are (CONN_HEALTH_CHECKS), not lost with a server error."""
    client.get(_url(survey))
    connection.connection.close()
    connection.health_check_done = False  # as at the start of every request

    page = client.post(_url(survey), {"q1": "9", "q2": "Fine"})

    assert page.status_code == 302
    assert Response.objects.get().answers.get(question__position=1).value == 9


def _backend_pid() -> int:
    return connection.connection.info.backend_pid


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # autocommit, as in production
def test_an_answer_after_the_server_ended_the_connection_is_saved(client, survey):
    """The server ended the connection between two requests (a restart, an administrator,
    an idle timeout): the next answer goes over a new connection, not to a server error."""
    client.post(_url(survey), {"q1": "9"})
    ended = _backend_pid()
    with psycopg.connect(**connection.get_connection_params()) as other:
        # With a timeout it returns once the server process has gone.
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [ended])
    connection.health_check_done = False  # as at the start of every request

    page = client.post(_url(survey), {"q1": "7"})

    assert page.status_code == 302
    assert sorted(Response.objects.values_list("answers__value", flat=True)) == [7, 9]
    assert _backend_pid() != ended


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_answers_keep_a_connection_the_server_kept(client, survey):
    """Telling a closed connection from an open one does not close open ones: a web process
    answers request after request over the connection it has."""
    client.post(_url(survey), {"q1": "9"})
    kept = _backend_pid()

    for score in (8, 7):
        connection.health_check_done = False
        assert client.post(_url(survey), {"q1": str(score)}).status_code == 302

    assert _backend_pid() == kept
    assert Response.objects.count() == 3


def _prepared_answer_statements() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%INSERT INTO surveys_answer%"],
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # autocommit, as in production
def test_a_public_answer_is_planned_once_a_connection(client, survey):
    """PostgreSQL plans the statement that writes a public answer once per connection,
    not for every answer: planning it cost as much as running it."""
    connection.close()  # a new connection, as a web process opens

    client.post(_url(survey), {"q1": "9"})
    client.post(_url(survey), {"q1": "7", "q2": "Fine"})

    assert _prepared_answer_statements() == 1
    assert set(Answer.objects.values_list("value", "text")) == {(9, ""), (7, ""), (None, "Fine")}
