"""The survey templates: proven question sets with standard Dutch and English wording.

One registry, used by the admin and by `manage.py create_survey`.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class StandardQuestion:
    role: str
    scale: tuple[int, int] | None  # None for free text
    en: str
    nl: str
    low_en: str = ""
    low_nl: str = ""
    high_en: str = ""
    high_nl: str = ""
    required: bool = True


@dataclass(frozen=True)
class SurveyTemplate:
    key: str
    kind: str
    label: Promise
    questions: tuple[StandardQuestion, ...]


NPS = StandardQuestion(
    "nps",
    (0, 10),
    "How likely is it that you would recommend {company} to a friend or colleague?",
    "Hoe waarschijnlijk is het dat u {company} zou aanbevelen aan een vriend of collega?",
    "Not at all likely",
    "Helemaal niet waarschijnlijk",
    "Extremely likely",
    "Zeer waarschijnlijk",
)
CSAT = StandardQuestion(
    "csat",
    (1, 5),
    "How satisfied are you with {company} overall?",
    "Hoe tevreden bent u in het algemeen over {company}?",
    "Very dissatisfied",
    "Zeer ontevreden",
    "Very satisfied",
    "Zeer tevreden",
)
CSAT_YES_NO = StandardQuestion(
    "csat",
    (0, 1),
    "Are you satisfied with {company}?",
    "Bent u tevreden over {company}?",
    "No",
    "Nee",
    "Yes",
    "Ja",
)
CES = StandardQuestion(
    "ces",
    (1, 7),
    "{company} made it easy for me to get what I needed.",
    "{company} maakte het mij gemakkelijk om te regelen wat ik nodig had.",
    "Strongly disagree",
    "Helemaal mee oneens",
    "Strongly agree",
    "Helemaal mee eens",
)
PURCHASE = StandardQuestion(
    "purchase",
    (1, 10),
    "How likely are you to buy from {company} again?",
    "Hoe waarschijnlijk is het dat u opnieuw iets koopt bij {company}?",
    "Not at all likely",
    "Helemaal niet waarschijnlijk",
    "Extremely likely",
    "Zeer waarschijnlijk",
)
UPSELL = StandardQuestion(
    "upsell",
    (1, 10),
    "Would you consider trying other products or services from {company}?",
    "Zou u overwegen andere producten of diensten van {company} te proberen?",
    "Definitely not",
    "Zeker niet",
    "Definitely",
    "Zeker wel",
)
RECOMMEND = StandardQuestion(
    "recommend",
    (1, 10),
    "How likely are you to recommend {company} to family, friends or colleagues?",
    "Hoe waarschijnlijk is het dat u {company} aanbeveelt aan familie, vrienden of collega's?",
    "Not at all likely",
    "Helemaal niet waarschijnlijk",
    "Extremely likely",
    "Zeer waarschijnlijk",
)
COMMENT = StandardQuestion(
    "comment",
    None,
    "What is the main reason for your score?",
    "Wat is de belangrijkste reden voor uw score?",
    required=False,
)

TEMPLATES: dict[str, SurveyTemplate] = {
    t.key: t
    for t in (
        SurveyTemplate("nps", "nps", _("NPS: likelihood to recommend, 0-10"), (NPS, COMMENT)),
        SurveyTemplate("csat", "csat", _("CSAT: satisfaction, 1-5"), (CSAT, COMMENT)),
        SurveyTemplate(
            "csat-yes-no", "csat", _("CSAT: satisfied, yes or no"), (CSAT_YES_NO, COMMENT)
        ),
        SurveyTemplate("ces", "ces", _("CES: effort, 1-7 agreement"), (CES, COMMENT)),
        SurveyTemplate(
            "loyalty",
            "loyalty",
            _("Loyalty ratio: buy again, try more, recommend, 1-10"),
            (PURCHASE, UPSELL, RECOMMEND, COMMENT),
        ),
    )
}


def template_choices() -> list[tuple[str, Promise]]:
    return [(t.key, t.label) for t in TEMPLATES.values()]
