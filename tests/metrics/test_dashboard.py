"""The staff dashboards: who may read them, and that they show what the answers say."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from metrics import dashboard
from metrics.charts import line_chart
from metrics.periods import Period
from surveys.models import Survey
from tests.factories import SurveyFactory, answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def nps(db):
    return SurveyFactory(template="nps", name="Relationship NPS")


def test_anonymous_visitors_are_sent_to_log_in(client, nps):
    for url in (reverse("metrics:overview"), reverse("metrics:survey", args=[nps.pk])):
        page = client.get(url)
        assert page.status_code == 302
        assert page["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "name", ["metrics:overview", "metrics:survey", "metrics:scores", "metrics:export_csv"]
)
def test_people_outside_managers_and_agents_are_refused(client, outsider, nps, name):
    client.force_login(outsider)
    args = [] if name == "metrics:overview" else [nps.pk]
    assert client.get(reverse(name, args=args)).status_code == 403


@pytest.mark.parametrize("persona", ["manager", "agent"])
def test_managers_and_agents_read_the_dashboards(client, request, nps, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("metrics:overview")).status_code == 200
    assert client.get(reverse("metrics:survey", args=[nps.pk])).status_code == 200


def test_overview_shows_each_live_survey_with_its_score(client, manager, nps):
    SurveyFactory(template="csat", name="Draft one", status=Survey.Status.DRAFT)
    for score in (10, 10, 9, 8, 6, 0):  # 3 promoters, 2 detractors of 6: +16.7
        answer(nps, score)
    for score in (0, 10):  # the 90 days before: 0
        answer(nps, score, days_ago=100)
    client.force_login(manager)

    html = client.get(reverse("metrics:overview")).content.decode()

    assert "Relationship NPS" in html and "Draft one" not in html
    assert "+17" in html
    assert "6 answers" in html
    assert "+17 against the previous period" in html
    assert "Small sample:" in html
    # Below the small-sample size the band gives way: +17 from 6 answers is no verdict.
    assert "Too few answers" in html and "band-good" not in html


def test_overview_without_live_surveys_says_so(client, manager):
    client.force_login(manager)
    html = client.get(reverse("metrics:overview")).content.decode()
    assert "There are no live surveys yet." in html
    assert reverse("admin:surveys_survey_add") in html


def test_empty_survey_page_renders_without_a_score(client, manager, nps):
    client.force_login(manager)
    html = client.get(reverse("metrics:survey", args=[nps.pk])).content.decode()
    assert "No answers in this period." in html
    assert "No comments in this period." in html
    assert "\u2013" in html


def test_one_answer_survey_has_no_margin_and_warns(client, manager, nps):
    answer(nps, 9, "Fine")
    client.force_login(manager)
    html = client.get(reverse("metrics:survey", args=[nps.pk])).content.decode()
    assert "+100" in html
    assert "1 answer" in html
    assert "±" not in html.split('id="trend"')[0]
    assert "Small sample:" in html


def test_large_survey_page_shows_the_split_breakdowns_and_margin(client, manager, nps):
    for i in range(40):  # 20 promoters, 10 passives, 10 detractors: NPS +25
        score = 10 if i < 20 else (7 if i < 30 else 3)
        answer(nps, score, touchpoint="support" if i % 2 else "delivery", channel="email")
    client.force_login(manager)

    html = client.get(reverse("metrics:survey", args=[nps.pk])).content.decode()

    assert "+25" in html
    assert "Small sample:" not in html
    assert "± 26" in html  # 100 * 1.96 * sqrt((0.75 - 0.0625) / 40)
    assert "Promoters" in html and "50.0%" in html and "25.0%" in html
    assert "support" in html and "delivery" in html and "email" in html
    assert "<svg" in html and "Show as a table" in html


def test_comments_are_shown_as_text_and_can_be_limited_to_unhappy_customers(client, manager, nps):
    answer(nps, 2, "<script>alert('x')</script> slow")
    answer(nps, 10, "<b>great</b>")
    client.force_login(manager)
    url = reverse("metrics:survey", args=[nps.pk])

    html = client.get(url).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; slow" in html
    assert "&lt;b&gt;great&lt;/b&gt;" in html
    assert "<script>alert" not in html

    unhappy = client.get(url + "?comments=unhappy").content.decode()
    assert "slow" in unhappy and "great" not in unhappy


def test_period_filter_and_a_bad_period(client, manager, nps):
    answer(nps, 10, "recent")
    answer(nps, 0, "old", days_ago=200)
    client.force_login(manager)
    url = reverse("metrics:survey", args=[nps.pk])
    today = timezone.localdate()

    old = client.get(
        url, {"start": today - timedelta(days=365), "end": today - timedelta(days=100)}
    )
    html = old.content.decode()
    assert "old" in html and "recent" not in html
    assert "Score per month" in html

    bad = client.get(url, {"start": today, "end": today - timedelta(days=3)})
    html = bad.content.decode()
    assert "The start date must not be after the end date." in html
    assert "Showing the last 90 days." in html
    assert "recent" in html


def test_scores_json_for_staff(client, agent, nps):
    for score in (10, 0, 0):
        answer(nps, score)
    client.force_login(agent)
    data = client.get(reverse("metrics:scores", args=[nps.pk])).json()
    assert data["value"] == pytest.approx(-33.33, abs=0.01)
    assert data["n"] == 3
    assert data["band"] == "needs_work"
    assert data["small_sample"] is True


def test_export_from_the_dashboard_respects_the_period(client, manager, nps):
    answer(nps, 10, '=HYPERLINK("x")')
    answer(nps, 4, "too old", days_ago=200)
    client.force_login(manager)

    page = client.get(reverse("metrics:export_csv", args=[nps.pk]))

    content = b"".join(page.streaming_content).decode("utf-8-sig")
    assert '\'=HYPERLINK(""x"")' in content
    assert "too old" not in content
    xlsx = client.get(reverse("metrics:export_xlsx", args=[nps.pk]))
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


@pytest.mark.parametrize("name", ["metrics:overview", "metrics:survey"])
def test_dashboard_pages_run_a_fixed_number_of_queries(
    client, manager, django_assert_max_num_queries, name
):
    client.force_login(manager)
    small = SurveyFactory(template="nps")
    answer(small, 9, "ok", touchpoint="a")
    args = [] if name == "metrics:overview" else [small.pk]
    with django_assert_max_num_queries(13) as small_run:
        client.get(reverse(name, args=args))

    for template in ("csat", "ces", "loyalty", "csat-yes-no"):
        SurveyFactory(template=template)
    for i in range(30):
        answer(
            small, i % 11, f"comment {i}", days_ago=i, touchpoint=f"t{i % 5}", channel=f"c{i % 3}"
        )
    with django_assert_max_num_queries(len(small_run.captured_queries)):
        client.get(reverse(name, args=args))


def test_trend_buckets_cover_the_period():
    weekly = dashboard.buckets(Period(date(2026, 1, 7), date(2026, 1, 20)))
    assert weekly == [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)]
    monthly = dashboard.buckets(Period(date(2025, 11, 15), date(2026, 11, 14)))
    assert monthly[0] == date(2025, 11, 1) and monthly[-1] == date(2026, 11, 1)
    assert len(monthly) == 13


def test_line_chart_breaks_at_weeks_without_answers():
    chart = line_chart([("a", 10.0), ("b", None), ("c", 20.0), ("d", -20.0)], -100, 100, 50)
    assert len(chart.lines) == 2
    assert [d.label for d in chart.dots] == ["a", "c", "d"]
    assert [t.label for t in chart.ticks] == ["-100", "-50", "0", "50", "100"]
    higher, lower = chart.dots[1], chart.dots[2]
    assert higher.y < lower.y  # SVG y grows downwards


def test_export_with_bad_dates_is_refused_with_a_message(client, manager, nps):
    client.force_login(manager)
    page = client.get(reverse("metrics:export_csv", args=[nps.pk]), {"start": "yesterday"})
    assert page.status_code == 400
    assert "Enter a valid date." in page.content.decode()


def test_admin_recomputes_and_exports_a_survey(admin_client, nps):
    answer(nps, 10, "kept", days_ago=400)
    from metrics.models import ScoreRollup

    ScoreRollup.objects.filter(dimension="all").update(count=9)
    url = reverse("admin:surveys_survey_changelist")

    page = admin_client.post(
        url, {"action": "recompute_scores", "_selected_action": [nps.pk]}, follow=True
    )
    assert "Relationship NPS: corrected 1 counts (8 answers off)." in page.content.decode()
    assert ScoreRollup.objects.get(dimension="all").count == 1

    export = admin_client.post(url, {"action": "export_csv", "_selected_action": [nps.pk]})
    assert export.status_code == 302
    content = b"".join(admin_client.get(export["Location"]).streaming_content).decode()
    assert "kept" in content

    other = SurveyFactory()
    refused = admin_client.post(
        url, {"action": "export_csv", "_selected_action": [nps.pk, other.pk]}, follow=True
    )
    assert "Choose exactly one survey to export." in refused.content.decode()


def test_admin_change_page_links_to_the_dashboard(admin_client, nps):
    html = admin_client.get(reverse("admin:surveys_survey_change", args=[nps.pk])).content.decode()
    assert reverse("metrics:survey", args=[nps.pk]) in html


@pytest.mark.parametrize(
    "query",
    [
        {"end": "0001-01-10"},
        {"start": "0001-01-01", "end": "0001-01-03"},
        {"start": "9999-12-30", "end": "9999-12-31"},
        {"start": "2026-13-01"},
    ],
)
def test_far_off_or_broken_dates_get_a_message_not_an_error(client, manager, nps, query):
    client.force_login(manager)
    for name in ("metrics:overview", "metrics:survey", "metrics:scores", "metrics:sla"):
        args = [nps.pk] if name in ("metrics:survey", "metrics:scores") else []
        assert client.get(reverse(name, args=args), query).status_code == 200
    export = client.get(reverse("metrics:export_csv", args=[nps.pk]), query)
    assert export.status_code == 400


def test_ces_page_shows_net_effort_and_agreement(client, manager):
    survey = SurveyFactory(template="ces", name="Returns")
    for value in (7, 6, 5, 4, 2):  # agree 3, disagree 1 of 5: net +40, agree 60%
        answer(survey, value)
    client.force_login(manager)

    html = client.get(reverse("metrics:survey", args=[survey.pk])).content.decode()

    assert "Net effort score" in html and "+40" in html
    assert "Agree it was easy" in html and "60%" in html


def test_loyalty_page_shows_the_three_question_means(client, manager):
    survey = SurveyFactory(template="loyalty", name="Loyalty")
    answer(survey, 4)  # the helper answers purchase 4, upsell 4, recommend 4
    answer(survey, 10)
    client.force_login(manager)

    html = client.get(reverse("metrics:survey", args=[survey.pk])).content.decode()

    assert "Buy again" in html and "Try other products" in html and "Recommend" in html
    assert html.count(">7.0<") >= 4  # the three means, and the ratio in the trend table


def test_the_distribution_colours_unhappy_answers_by_the_survey_rule(nps):
    from metrics.models import FollowUpRule

    FollowUpRule.objects.create(survey=nps, threshold=4)
    report = dashboard.report(nps, Period.last(90))

    tones = {bar.label: bar.tone for bar in report.distribution_chart.bars}
    assert (tones["4"], tones["5"], tones["6"], tones["9"]) == ("bad", "neutral", "neutral", "good")


@pytest.mark.parametrize(("language", "other"), [("en", "Other"), ("nl", "Overig")])
def test_a_comment_names_its_touchpoint_as_given_else_as_other_in_the_staffs_language(
    client, manager, nps, language, other
):
    nps.known_touchpoints = "checkout"
    nps.save()
    given = answer(nps, 2, "Slow", touchpoint="checkout")
    unknown = answer(nps, 3, "Rude", touchpoint="winkel-zuid")
    Survey.objects.filter(pk=nps.pk).update(known_touchpoints="checkout")  # `answer` adds it
    type(unknown).objects.filter(pk=unknown.pk).update(touchpoint="other", metadata={})
    client.force_login(manager)

    html = client.get(
        reverse("metrics:survey", args=[nps.pk]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()

    assert given.touchpoint == "checkout" and " · checkout</figcaption>" in html
    # Its link's own word was forgotten (kept free text expires): only "other" is left.
    assert f" · {other}</figcaption>" in html
    assert " · other</figcaption>" not in html
