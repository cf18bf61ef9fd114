"""Each template asks the standard questions, worded for the company, in both languages."""

import pytest

from surveys.survey_templates import TEMPLATES
from tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db

COMMENT = (
    "comment",
    None,
    None,
    "What is the main reason for your score?",
    "Wat is de belangrijkste reden voor uw score?",
)
EXPECTED = {
    "nps": (
        "nps",
        [
            (
                "nps",
                0,
                10,
                "How likely is it that you would recommend Bakery Jansen to a friend or colleague?",
                "Hoe waarschijnlijk is het dat u Bakery Jansen zou aanbevelen aan een vriend of "
                "collega?",
            ),
            COMMENT,
        ],
    ),
    "csat": (
        "csat",
        [
            (
                "csat",
                1,
                5,
                "How satisfied are you with Bakery Jansen overall?",
                "Hoe tevreden bent u in het algemeen over Bakery Jansen?",
            ),
            COMMENT,
        ],
    ),
    "csat-yes-no": (
        "csat",
        [
            (
                "csat",
                0,
                1,
                "Are you satisfied with Bakery Jansen?",
                "Bent u tevreden over Bakery Jansen?",
            ),
            COMMENT,
        ],
    ),
    "ces": (
        "ces",
        [
            (
                "ces",
                1,
                7,
                "Bakery Jansen made it easy for me to get what I needed.",
                "Bakery Jansen maakte het mij gemakkelijk om te regelen wat ik nodig had.",
            ),
            COMMENT,
        ],
    ),
    "loyalty": (
        "loyalty",
        [
            (
                "purchase",
                1,
                10,
                "How likely are you to buy from Bakery Jansen again?",
                "Hoe waarschijnlijk is het dat u opnieuw iets koopt bij Bakery Jansen?",
            ),
            (
                "upsell",
                1,
                10,
                "Would you consider trying other products or services from Bakery Jansen?",
                "Zou u overwegen andere producten of diensten van Bakery Jansen te proberen?",
            ),
            (
                "recommend",
                1,
                10,
                "How likely are you to recommend Bakery Jansen to family, friends or colleagues?",
                "Hoe waarschijnlijk is het dat u Bakery Jansen aanbeveelt aan familie, vrienden of "
                "collega's?",
            ),
            COMMENT,
        ],
    ),
}


def test_every_template_is_covered():
    assert set(TEMPLATES) == set(EXPECTED)


@pytest.mark.parametrize("template", sorted(EXPECTED))
def test_template_creates_its_questions_in_both_languages(template):
    kind, questions = EXPECTED[template]
    survey = SurveyFactory(template=template, company="Bakery Jansen")

    assert survey.kind == kind
    got = [
        (q.role, q.scale_min, q.scale_max, q.text_en, q.text_nl)
        for q in survey.questions.order_by("position")
    ]
    assert got == questions
    assert [q.required for q in survey.questions.order_by("position")] == [
        role != "comment" for role, *_ in questions
    ]


def test_nps_end_labels_in_both_languages():
    nps = SurveyFactory(template="nps").questions.get(role="nps")
    assert (nps.low_label("en"), nps.high_label("en")) == ("Not at all likely", "Extremely likely")
    assert (nps.low_label("nl"), nps.high_label("nl")) == (
        "Helemaal niet waarschijnlijk",
        "Zeer waarschijnlijk",
    )
