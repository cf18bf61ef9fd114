"""The respondent's path: open a link, answer, see thanks; bad input changes nothing."""

import pytest
from django.urls import reverse

from surveys.forms import buttons_per_row
from surveys.models import Answer, Response, Survey
from surveys.signals import response_submitted
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory

pytestmark = pytest.mark.django_db


def _url(survey, query=""):
    return reverse("surveys:respond", args=[survey.slug]) + query


def test_form_is_in_the_survey_language_with_a_switch(client, nps_survey):
    page = client.get(_url(nps_survey))

    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="nl">' in html
    assert "Hoe waarschijnlijk is het dat u Acme zou aanbevelen" in html
    assert "0 = Helemaal niet waarschijnlijk" in html
    assert "10 = Zeer waarschijnlijk" in html
    assert "Verstuur" in html
    assert "Wat is de belangrijkste reden voor uw score? (optioneel)" in html
    assert f'href="/s/{nps_survey.slug}/?lang=en"' in html


def test_language_switch_shows_english_and_keeps_the_link_parameters(client, nps_survey):
    page = client.get(_url(nps_survey, "?touchpoint=support&lang=en"))

    html = page.content.decode()
    assert '<html lang="en">' in html
    assert "How likely is it that you would recommend Acme" in html
    assert "0 = Not at all likely" in html
    assert f"/s/{nps_survey.slug}/?touchpoint=support&amp;lang=nl" in html
    assert f'action="/s/{nps_survey.slug}/?touchpoint=support&amp;lang=en"' in html


def test_scale_is_a_fieldset_of_radio_buttons_with_a_legend(client, nps_survey):
    html = client.get(_url(nps_survey)).content.decode()

    assert html.count('type="radio"') == 11
    assert "<legend" in html
    assert 'aria-describedby="id_q1_ends"' in html


@pytest.mark.parametrize("method", ["get", "head"])
@pytest.mark.parametrize("query", ["", "?score=3", "?score=10&touchpoint=support&ref=C1"])
def test_get_and_head_record_nothing(client, nps_survey, method, query):
    page = getattr(client, method)(_url(nps_survey, query))

    assert page.status_code == 200
    assert not Response.objects.exists()


@pytest.mark.parametrize("method", ["get", "head"])
def test_invitation_get_and_head_record_and_consume_nothing(client, method):
    invitation = InvitationFactory()
    url = reverse("surveys:respond_invitation", args=[invitation.token])

    assert getattr(client, method)(url + "?score=2").status_code == 200
    assert getattr(client, method)(url).status_code == 200
    invitation.refresh_from_db()
    assert invitation.responded_at is None
    assert not Response.objects.exists()


def test_score_parameter_preselects_the_answer(client, nps_survey):
    html = client.get(_url(nps_survey, "?score=7")).content.decode()
    assert 'value="7" checked' in html
    assert html.count("checked") == 1


def test_a_preselected_score_is_not_shown_to_the_next_visitor(client, nps_survey):
    assert 'value="7" checked' in client.get(_url(nps_survey, "?score=7")).content.decode()

    assert "checked" not in client.get(_url(nps_survey)).content.decode()


def test_the_form_shows_the_wording_staff_changed_after_it_was_shown(client, nps_survey):
    client.get(_url(nps_survey))
    question = nps_survey.questions.get(role="nps")
    question.text_nl = "Zou u Acme aanraden?"
    question.low_label_nl = "Nooit"
    question.save()
    nps_survey.questions.filter(role="comment").update(required=True)

    html = client.get(_url(nps_survey)).content.decode()

    assert "Zou u Acme aanraden?" in html
    assert "0 = Nooit" in html
    assert "Wat is de belangrijkste reden voor uw score?<span" in html
    assert "(optioneel)" not in html


@pytest.mark.parametrize("score", ["11", "-1", "abc", ""])
def test_score_parameter_off_the_scale_preselects_nothing(client, nps_survey, score):
    html = client.get(_url(nps_survey, f"?score={score}")).content.decode()
    assert "checked" not in html


def test_submission_saves_answers_metadata_and_thanks(
    client, nps_survey, django_capture_on_commit_callbacks
):
    CustomerFactory(ref="C123", segment="enterprise")
    Survey.objects.filter(pk=nps_survey.pk).update(
        known_touchpoints="support", known_channels="email"
    )
    received = []
    response_submitted.connect(lambda sender, response, **kw: received.append(response), weak=False)

    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            _url(nps_survey, "?touchpoint=support&channel=email&ref=C123&lang=en"),
            {"q1": "3", "q2": "Too slow <script>alert(1)</script>"},
        )

    assert page.status_code == 302
    assert page["Location"] == reverse("surveys:thanks", args=[nps_survey.slug]) + "?lang=en"
    response = Response.objects.get()
    assert response.processed_at is None
    assert response.language == "en"
    assert (response.touchpoint, response.channel) == ("support", "email")
    assert response.metadata == {"touchpoint": "support", "channel": "email", "ref": "C123"}
    # Anyone can type a ref into a public link: it is kept, but names no customer.
    assert response.customer is None
    answers = {a.question.role: (a.value, a.text) for a in response.answers.all()}
    assert answers == {"nps": (3, ""), "comment": (None, "Too slow <script>alert(1)</script>")}
    assert received == [response]

    thanks = client.get(page["Location"])
    assert "Thank you!" in thanks.content.decode()


def test_optional_comment_may_be_left_out(client, nps_survey):
    client.post(_url(nps_survey), {"q1": "10", "q2": ""})

    response = Response.objects.get()
    assert [(a.value, a.text) for a in response.answers.all()] == [(10, "")]
    assert response.touchpoint == ""
    assert response.channel == "link"


def test_yes_no_survey_shows_words_and_stores_one_for_yes(client):
    survey = SurveyFactory(template="csat-yes-no", language="nl")
    html = client.get(_url(survey)).content.decode()
    assert ">Ja</label>" in html and ">Nee</label>" in html

    client.post(_url(survey), {"q1": "1"})
    assert Answer.objects.get().value == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"q1": "11"}, "Kies een van de getoonde antwoorden."),
        ({"q1": "-1"}, "Kies een van de getoonde antwoorden."),
        ({"q1": "tien"}, "Kies een van de getoonde antwoorden."),
        ({"q1": "3.5"}, "Kies een van de getoonde antwoorden."),
        ({}, "Kies een antwoord."),
        ({"q1": ""}, "Kies een antwoord."),
        ({"q1": "7", "q2": "x" * 5001}, "niet meer dan 5000 tekens"),
    ],
)
def test_bad_answers_get_a_dutch_message_and_save_nothing(client, nps_survey, data, message):
    page = client.post(_url(nps_survey), data)

    assert page.status_code == 200
    html = page.content.decode()
    assert message in html
    assert "Controleer de hieronder gemarkeerde antwoorden." in html
    assert not Response.objects.exists()
    assert not Answer.objects.exists()


def test_a_rejected_comment_is_kept_on_the_form(client, nps_survey):
    page = client.post(_url(nps_survey, "?lang=en"), {"q2": "Kept text"})
    html = page.content.decode()
    assert "Please choose an answer." in html
    assert "Kept text" in html


def test_a_rejected_answer_is_not_shown_to_the_next_respondent(client, nps_survey):
    """The forms of one process share their fields; what one respondent typed and the
    messages they got stay on their own page, in their own language."""
    client.post(_url(nps_survey, "?lang=nl"), {"q1": "11", "q2": "Mijn eigen tekst"})

    html = client.get(_url(nps_survey, "?lang=en&touchpoint=shop")).content.decode()
    assert "Mijn eigen tekst" not in html
    assert "Please choose one of the answers shown." not in html
    english = client.post(_url(nps_survey, "?lang=en&touchpoint=shop"), {"q2": "Mine"})
    assert "Please choose an answer." in english.content.decode()
    assert "Kies een antwoord." not in english.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?colour=blue", "Deze link bevat gegevens die we niet kunnen aannemen (colour)."),
        ("?ref=" + "x" * 101, "Het gegeven ref in deze link is te lang."),
        ("?touchpoint=" + "x" * 5000, "Het gegeven touchpoint in deze link is te lang."),
    ],
)
def test_bad_link_parameters_get_a_message_and_save_nothing(client, nps_survey, query, message):
    page = client.post(_url(nps_survey, query), {"q1": "9"})

    assert page.status_code == 200
    html = page.content.decode()
    assert message in html
    assert f'href="/s/{nps_survey.slug}/?lang=nl"' in html
    assert not Response.objects.exists()


def test_closed_survey_is_friendly_and_takes_nothing(client):
    survey = SurveyFactory(status=Survey.Status.CLOSED, language="en")

    page = client.get(_url(survey))
    assert page.status_code == 410
    assert "This survey is closed" in page.content.decode()
    assert client.post(_url(survey), {"q1": "9"}).status_code == 410
    assert not Response.objects.exists()


def test_draft_survey_is_not_open_yet(client):
    survey = SurveyFactory(status=Survey.Status.DRAFT, language="nl")

    page = client.post(_url(survey), {"q1": "9"})
    assert page.status_code == 404
    assert "Deze enquête is nog niet geopend" in page.content.decode()
    assert not Response.objects.exists()


@pytest.mark.parametrize("path", ["/s/unknown-slug/", "/i/unknown-token/"])
def test_unknown_slug_or_token_is_a_plain_404(client, path):
    assert client.get(path).status_code == 404
    assert client.post(path, {"q1": "1"}).status_code == 404
    assert client.get(path + "thanks/").status_code == 404


def test_invitation_response_is_linked_and_answered_once(client):
    invitation = InvitationFactory(survey__language="en")
    url = reverse("surveys:respond_invitation", args=[invitation.token])

    first = client.post(url, {"q1": "2", "q2": "Late again"})
    assert first["Location"].startswith(
        reverse("surveys:invitation_thanks", args=[invitation.token])
    )
    response = Response.objects.get()
    assert response.invitation == invitation
    assert response.customer == invitation.customer
    assert response.channel == "invitation"
    invitation.refresh_from_db()
    assert invitation.responded_at == response.submitted_at

    again = client.post(url, {"q1": "10"})
    assert again.status_code == 200
    assert "You have already answered" in again.content.decode()
    assert "You have already answered" in client.get(url).content.decode()
    assert Response.objects.count() == 1
    assert response.answers.get(question__role="nps").value == 2


def test_form_get_runs_a_fixed_small_number_of_queries(client, django_assert_max_num_queries):
    survey = SurveyFactory(template="loyalty")
    invitation = InvitationFactory(survey=survey)
    # The public link's survey comes with its questions; an invitation's with its customer.
    with django_assert_max_num_queries(1):
        client.get(_url(survey, "?score=5"))
    with django_assert_max_num_queries(2):
        client.get(reverse("surveys:respond_invitation", args=[invitation.token]))


def test_form_post_runs_a_fixed_small_number_of_queries(client, django_assert_max_num_queries):
    # Survey, questions, customer, response, answers (one bulk insert), invitation, and
    # the savepoints of the atomic blocks; the same whatever the number of questions.
    survey = SurveyFactory(template="loyalty")
    invitation = InvitationFactory(survey=survey)
    answers = {"q1": "8", "q2": "7", "q3": "9", "q4": "Fine"}
    with django_assert_max_num_queries(10):
        client.post(_url(survey, "?ref=C1"), answers)
    with django_assert_max_num_queries(10):
        client.post(reverse("surveys:respond_invitation", args=[invitation.token]), answers)
    assert Response.objects.count() == 2
    assert Answer.objects.count() == 8


@pytest.mark.parametrize("score", ["²", "٣", "1e3", "9" * 400])
def test_odd_score_parameters_preselect_nothing_and_never_fail(client, nps_survey, score):
    page = client.get(_url(nps_survey, f"?score={score}"))
    assert page.status_code == 200
    assert "checked" not in page.content.decode()


def test_tracking_parameters_of_email_tools_are_ignored(client, nps_survey):
    query = "?utm_source=mail&utm_campaign=q4&fbclid=x1&gclid=y2&touchpoint=support"
    page = client.post(_url(nps_survey, query), {"q1": "9"})

    assert page.status_code == 302
    assert Response.objects.get().metadata == {"touchpoint": "support"}


def test_respondent_pages_set_no_cookie_and_need_none(nps_survey):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    form = strict.get(_url(nps_survey))
    assert not form.cookies
    assert strict.post(_url(nps_survey), {"q1": "9"}).status_code == 302


def test_an_invitation_speaks_the_customer_language(client):
    invitation = InvitationFactory(survey__language="en", customer__language="nl")
    page = client.get(reverse("surveys:respond_invitation", args=[invitation.token]))
    assert '<html lang="nl">' in page.content.decode()
    english = client.get(
        reverse("surveys:respond_invitation", args=[invitation.token]) + "?lang=en"
    )
    assert '<html lang="en">' in english.content.decode()


@pytest.mark.parametrize(
    ("options", "per_row"),
    [(2, 2), (5, 5), (6, 6), (7, 4), (10, 5), (11, 6), (12, 6), (13, 5)],
)
def test_a_scale_takes_balanced_rows_of_at_most_six_buttons_on_a_phone(options, per_row):
    assert buttons_per_row(options) == per_row


def test_the_scale_tells_the_page_how_to_lay_out_its_buttons(client):
    survey = SurveyFactory(template="ces")
    html = client.get(_url(survey)).content.decode()
    assert 'style="--options: 7; --phone-row: 4"' in html


@pytest.mark.parametrize(
    "path",
    ["/s/abc%00/", "/s/abc%00/thanks/", "/i/x%00y/", "/i/x%00y/thanks/", "/unsubscribe/a%00/"],
)
def test_a_nul_in_a_link_is_not_found(client, path):
    assert client.get(path).status_code == 404
