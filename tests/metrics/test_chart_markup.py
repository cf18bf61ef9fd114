"""Numbers in chart markup are never localised: a Dutch page must still draw its charts."""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from metrics.charts import bar_chart, line_chart
from metrics.scoring import Groups
from tests.factories import SurveyFactory, answer

pytestmark = pytest.mark.django_db

# SVG attributes that hold one number (a length or a coordinate).
NUMERIC = {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "dx", "dy", "width", "height"}
LENGTH = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?(%|px|rem|em)?")


class MarkupNumbers(HTMLParser):
    """Collects every number a browser reads from SVG attributes and inline CSS."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: list[float] = []
        self.problems: list[str] = []
        self.in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.in_svg += 1
        for name, value in attrs:
            if value is None:
                continue
            if name == "style":
                self._style(tag, value)
            elif self.in_svg and name in NUMERIC:
                self._number(tag, name, value)
            elif self.in_svg and name == "viewbox":
                parts = value.split()
                if len(parts) != 4:
                    self.problems.append(f"<{tag} viewBox={value!r}>")
                for part in parts:
                    self._number(tag, name, part)
            elif self.in_svg and name == "points":
                for pair in value.split():
                    coordinates = pair.split(",")
                    if len(coordinates) != 2:
                        self.problems.append(f"<{tag} points=...{pair!r}...>")
                    for coordinate in coordinates:
                        self._number(tag, name, coordinate)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.in_svg -= 1

    def _style(self, tag: str, style: str) -> None:
        for declaration in filter(None, (d.strip() for d in style.split(";"))):
            _, _, value = declaration.partition(":")
            value = value.strip()
            if value[:1].isdigit() or value[:1] in "-.":
                self._number(tag, "style", value)

    def _number(self, tag: str, name: str, text: str) -> None:
        if not LENGTH.fullmatch(text):
            self.problems.append(f"<{tag} {name}={text!r}>")
            return
        self.numbers.append(float(re.sub(r"[a-z%]+$", "", text)))


def markup_numbers(html: str) -> list[float]:
    parser = MarkupNumbers()
    parser.feed(html)
    assert not parser.problems, "numbers a browser cannot read:\n" + "\n".join(parser.problems)
    return parser.numbers


@pytest.fixture(params=["en", "nl"])
def language(request):
    with translation.override(request.param):
        yield request.param


def test_every_chart_partial_keeps_plain_numbers(language):
    # Values chosen so that every coordinate has decimals.
    line = line_chart([("a", 12.3), ("b", None), ("c", -45.6), ("d", 7.7)], -100, 100, 50)
    bars = bar_chart([(str(v), v * 7 + 1, "neutral") for v in range(11)])
    pages = [
        render_to_string("metrics/_line_chart.html", {"chart": line, "id": "l", "title": "t"}),
        render_to_string("metrics/_bar_chart.html", {"chart": bars, "id": "b", "title": "t"}),
        render_to_string("metrics/_split_bar.html", {"groups": Groups(good=6, neutral=4, bad=3)}),
    ]
    for html in pages:
        numbers = markup_numbers(html)
        assert any(number % 1 for number in numbers), "no decimals: the test proves nothing"


@pytest.mark.parametrize("template", ["nps", "csat", "csat-yes-no", "ces", "loyalty"])
def test_dashboard_pages_draw_their_charts_in_both_languages(client, manager, template, language):
    survey = SurveyFactory(template=template)
    values = {"nps": [10, 9, 7, 6, 3, 0, 8], "ces": [7, 5, 4, 2, 1, 6, 6]}.get(
        template, [1, 0, 1, 1, 0, 1, 1] if template == "csat-yes-no" else [5, 4, 3, 2, 1, 4, 5]
    )
    for days_ago, value in enumerate(values):
        answer(survey, value, days_ago=days_ago * 9)
    client.force_login(manager)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    survey_page = client.get(reverse("metrics:survey", args=[survey.pk])).content.decode()
    overview = client.get(reverse("metrics:overview")).content.decode()

    assert f'lang="{language}"' in survey_page
    numbers = markup_numbers(survey_page)
    assert survey_page.count("<svg") >= 2
    assert any(number % 1 for number in numbers), "no decimals: the test proves nothing"
    markup_numbers(overview)
