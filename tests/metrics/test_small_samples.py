"""Numbers that could mislead: tiny samples, changes that round to nothing, empty shares."""

import re

import pytest
from django.urls import reverse

from metrics import dashboard, scoring
from metrics.charts import line_chart
from metrics.periods import Period
from tests.factories import SurveyFactory, answer

pytestmark = pytest.mark.django_db


def _page(client, manager, survey):
    client.force_login(manager)
    return client.get(reverse("metrics:survey", args=[survey.pk])).content.decode()


def _headline_of(html):
    """The survey page's headline section, up to the trend."""
    return html.split('id="headline"')[1].split('id="trend"')[0]


def test_one_answer_keeps_its_score_but_gets_no_band(client, manager):
    survey = SurveyFactory(template="nps")
    answer(survey, 10)

    headline = _headline_of(_page(client, manager, survey))

    assert "+100" in headline
    assert "Too few answers" in headline
    assert "World class" not in headline
    assert "display-5 fw-semibold mb-0 text-body-secondary" in headline  # the score, greyed


def test_the_band_returns_at_the_small_sample_size(client, manager):
    survey = SurveyFactory(template="nps")
    for _ in range(scoring.SMALL_SAMPLE - 1):
        answer(survey, 10)
    assert "Too few answers" in _headline_of(_page(client, manager, survey))

    answer(survey, 10)
    headline = _headline_of(_page(client, manager, survey))

    assert "World class" in headline
    assert "Too few answers" not in headline and "Small sample:" not in headline


def test_the_small_sample_size_is_set_in_one_place(client, manager, monkeypatch):
    monkeypatch.setattr(scoring, "SMALL_SAMPLE", 4)
    survey = SurveyFactory(template="nps")
    for value in (10, 10, 9):
        answer(survey, value, touchpoint="shop")

    html = _page(client, manager, survey)
    assert "fewer than 4 answers" in html and "Too few answers" in html
    assert "dot-few" in html

    answer(survey, 10, touchpoint="shop")
    html = _page(client, manager, survey)
    assert "World class" in html
    assert "Small sample:" not in html and "dot-few" not in html


def test_a_zero_margin_from_a_tiny_segment_reads_as_a_dash(client, manager):
    survey = SurveyFactory(template="nps")
    for value in (10, 10):  # no spread in two answers: the margin formula gives 0
        answer(survey, value, touchpoint="shop")
    for value in (10, 0, 8):
        answer(survey, value, touchpoint="phone")

    html = _page(client, manager, survey)

    assert "± 0<" not in html
    shop = re.search(r"<td>shop</td>(.*?)</tr>", html).group(1)
    assert re.findall(r'<td class="text-end">(.*?)</td>', shop) == ["+100", "\u2013", "2"]
    phone = re.search(r"<td>phone</td>(.*?)</tr>", html).group(1)
    assert "± 92" in phone  # 196 * sqrt((2/3) / 3): a spread the sample does show


def test_the_json_leaves_a_zero_margin_from_a_tiny_sample_unknown(client, manager):
    survey = SurveyFactory(template="nps")
    for value in (10, 10):
        answer(survey, value)
    client.force_login(manager)
    data = client.get(reverse("metrics:scores", args=[survey.pk])).json()
    assert (data["value"], data["margin"], data["small_sample"]) == (100.0, None, True)


def test_trend_points_with_few_answers_are_hollow_and_say_their_n():
    chart = line_chart(
        [("a", 10.0), ("b", None), ("c", -20.0)], -100, 100, 50, counts=[2, 0, scoring.SMALL_SAMPLE]
    )
    few, enough = chart.dots
    assert (few.few, few.n) == (True, 2)
    assert (enough.few, enough.n) == (False, scoring.SMALL_SAMPLE)
    assert chart.has_few
    # Without counts (the SLA report's chart) nothing is marked.
    assert not line_chart([("a", 10.0)], 0, 100, 25).has_few


def test_the_trend_draws_a_small_week_hollow_with_its_n_in_the_tooltip(client, manager):
    survey = SurveyFactory(template="nps")
    for value in (10, 0):
        answer(survey, value)
    for _ in range(scoring.SMALL_SAMPLE):
        answer(survey, 9, days_ago=14)

    html = _page(client, manager, survey)

    dots = re.findall(r'<circle [^>]*class="(dot[^"]*)"><title>([^<]*)</title>', html)
    (older_class, older_title), (latest_class, latest_title) = dots[-2:]
    assert latest_class == "dot dot-few" and latest_title.endswith(": 0.0 (2 answers)")
    assert older_class == "dot" and older_title.endswith(": 100.0 (30 answers)")
    assert "Hollow points: fewer than 30 answers" in html


@pytest.mark.parametrize(
    ("now", "before", "shown"),
    [
        ([5, 5], [5] * 24 + [6], "0.0"),  # 5.0 against 5.04: -0.04 shows as 0.0
        ([5, 6], [5] * 24 + [6], "+0.5"),
        ([5, 5], [5, 6], "\u22120.5"),
    ],
)
def test_a_change_that_rounds_to_nothing_is_neutral(client, manager, now, before, shown):
    survey = SurveyFactory(template="ces")
    for value in now:
        answer(survey, value)
    for value in before:
        answer(survey, value, days_ago=100)
    client.force_login(manager)

    html = client.get(reverse("metrics:overview")).content.decode()

    change = re.search(r'<span class="([^"]*)">([^<]*) against the previous period', html)
    tone = {"0.0": "text-body-secondary", "+0.5": "text-success-emphasis"}.get(
        shown, "text-danger-emphasis"
    )
    assert change.groups() == (tone, shown)


def test_an_empty_share_is_a_dash_not_zero_percent(client, manager):
    survey = SurveyFactory(template="nps")
    answer(survey, 10, days_ago=200)  # outside the period shown

    html = _page(client, manager, survey)

    assert "0.0%" not in html and 'class="split"' not in html
    shares = re.findall(r'<td class="text-end">\d+</td><td class="text-end">([^<]*)</td>', html)
    assert shares == ["\u2013", "\u2013", "\u2013"]


def test_shares_of_a_real_split_add_up(client, manager):
    survey = SurveyFactory(template="nps")
    for value in (10, 9, 8, 0, 0, 0, 1):
        answer(survey, value)

    report = dashboard.report(survey, Period.last(90))
    groups = report.card.now.groups

    assert (groups.good_share, groups.bad_share) == pytest.approx((200 / 7, 400 / 7))
    assert groups.good_share + groups.neutral_share + groups.bad_share == pytest.approx(100)
    html = _page(client, manager, survey)
    assert "28.6%" in html and "14.3%" in html and "57.1%" in html
