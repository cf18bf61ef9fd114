import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from metrics.processing import process_response
from surveys.services import submit_response
from tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db


def _scores(*args):
    out = StringIO()
    call_command("scores", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def _answer(survey, role, value):
    question = survey.questions.get(role=role)
    response = submit_response(survey=survey, answers={question: value}, language="en")
    process_response(response_id=response.pk)


def test_scores_prints_the_headline_last():
    survey = SurveyFactory(template="ces", name="Returns")
    for value in (7, 6, 2):  # mean 5.0; s = sqrt(7) -> margin 1.96 * 2.6458 / sqrt(3) = 2.99
        _answer(survey, "ces", value)

    assert _scores(survey.slug)[-1] == "Returns (ces): 5.0 ± 2.99 (n=3, needs_work, small sample)"


def test_scores_json():
    survey = SurveyFactory(template="csat-yes-no")
    for value in (1, 1, 1, 0):
        _answer(survey, "csat", value)

    data = json.loads(_scores(survey.slug, "--json")[-1])

    assert data["value"] == 75.0 and data["n"] == 4 and data["kind"] == "csat"
    assert data["margin"] == pytest.approx(42.44, abs=0.01)  # 1.96 * sqrt(.75 * .25 / 4)


def test_scores_of_a_survey_without_answers_and_of_an_unknown_one():
    survey = SurveyFactory(name="Quiet")
    assert _scores(survey.slug)[-1] == "Quiet: no answers yet"
    with pytest.raises(CommandError, match="No survey"):
        call_command("scores", "nope")
