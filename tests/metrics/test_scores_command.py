import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.factories import SurveyFactory, answer

pytestmark = pytest.mark.django_db


def _scores(*args):
    out = StringIO()
    call_command("scores", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_scores_prints_the_headline_last():
    survey = SurveyFactory(template="ces", name="Returns")
    for value in (7, 6, 2):  # mean 5.0; s = sqrt(7) -> margin 1.96 * 2.6458 / sqrt(3) = 2.99
        answer(survey, value)

    assert _scores(survey.slug)[-1] == "Returns (ces): 5.0 ± 2.99 (n=3, needs_work, small sample)"


def test_scores_json():
    survey = SurveyFactory(template="csat-yes-no")
    for value in (1, 1, 1, 0):
        answer(survey, value)

    data = json.loads(_scores(survey.slug, "--json")[-1])

    assert data["value"] == 75.0 and data["n"] == 4 and data["kind"] == "csat"
    assert data["margin"] == pytest.approx(42.44, abs=0.01)  # 1.96 * sqrt(.75 * .25 / 4)


def test_scores_of_a_survey_without_answers_and_of_an_unknown_one():
    survey = SurveyFactory(name="Quiet")
    assert _scores(survey.slug)[-1] == "Quiet: no answers yet"
    with pytest.raises(CommandError, match="No survey"):
        call_command("scores", "nope")
