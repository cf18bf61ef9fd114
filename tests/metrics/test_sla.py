"""The follow-up SLA report: figures per week and survey or agent, and its page."""

import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from metrics.models import FollowUp
from metrics.periods import Period
from metrics.sla import SlaRow, human_duration, sla_rows
from surveys.models import Response
from surveys.services import exclude_burst, include_burst, submit_response
from tests.factories import SurveyFactory

pytestmark = pytest.mark.django_db

# Monday 5 January to Sunday 18 January 2026: two whole ISO weeks.
PERIOD = Period(date(2026, 1, 5), date(2026, 1, 18))
WEEK1, WEEK2 = date(2026, 1, 5), date(2026, 1, 12)


def at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    """A local time in 2026."""
    zone = timezone.get_current_timezone()
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


NOW = at(20, 12)


def _case(survey, created, *, due=None, contact=None, resolved=None, assignee=None, status=None):
    response = submit_response(survey=survey, answers={}, language="en")
    case = FollowUp.objects.create(
        response=response,
        survey=survey,
        reason="detractor",
        score=3,
        due_at=due or created + timedelta(days=1),
        assignee=assignee,
    )
    if status is None:
        status = FollowUp.Status.RESOLVED if resolved else FollowUp.Status.NEW
    FollowUp.objects.filter(pk=case.pk).update(
        created_at=created, first_contact_at=contact, resolved_at=resolved, status=status
    )
    return case


@pytest.fixture
def cases(agent, manager):
    """Two surveys over two weeks, two agents and an unassigned case, and two outsiders."""
    agent.first_name, agent.last_name = "Ann", "Agent"
    agent.save()
    billing = SurveyFactory(name="Billing")
    delivery = SurveyFactory(name="Delivery")
    contacted = FollowUp.Status.CONTACTED
    # Week 1, Billing: contact after 3 h 20 min, resolved after 26 h.
    _case(billing, at(5, 9), contact=at(5, 12, 20), resolved=at(6, 11), assignee=agent)
    # Contact after 23 h, within the window; still open and due long ago.
    _case(billing, at(6, 10), contact=at(7, 9), assignee=agent, status=contacted)
    # Contact after 48 h, a day late; resolved after 72 h.
    _case(billing, at(7, 8), contact=at(9, 8), resolved=at(10, 8), assignee=manager)
    # Week 1, Delivery: Sunday night, never contacted, overdue.
    _case(delivery, at(11, 23, 30))
    # Week 2: Monday 00:30 local is still Sunday in UTC; contacted after 30 min.
    _case(delivery, at(12, 0, 30), contact=at(12, 1), status=contacted)
    # Week 2, Billing: not due until after "now".
    _case(billing, at(14, 10), due=at(21, 10))
    # Outside the period on either side.
    _case(billing, at(4, 23, 59))
    _case(delivery, at(19, 0))
    return billing, delivery


def _row(rows: list[SlaRow], week: date, name: str = "", total: bool = False) -> SlaRow:
    (row,) = [r for r in rows if r.week == week and r.name == name and r.is_total == total]
    return row


def test_per_survey_figures_by_hand(cases):
    billing, delivery = cases

    rows = sla_rows(PERIOD, "survey", now=NOW)

    assert [(r.week, r.name, r.is_total) for r in rows] == [
        (WEEK1, "Billing", False),
        (WEEK1, "Delivery", False),
        (WEEK1, "", True),
        (WEEK2, "Billing", False),
        (WEEK2, "Delivery", False),
        (WEEK2, "", True),
    ]
    first = _row(rows, WEEK1, "Billing")
    assert first.key == billing.pk
    assert first.opened == 3
    assert first.contacted_within == 2
    assert first.within_window_percent == 66.7
    assert first.median_first_contact == timedelta(hours=23)
    assert first.median_resolve == timedelta(hours=49)  # of 26 h and 72 h
    assert (first.open_now, first.overdue_now) == (1, 1)

    late = _row(rows, WEEK1, "Delivery")
    assert (late.opened, late.within_window_percent) == (1, 0.0)
    assert late.median_first_contact is None and late.median_resolve is None
    assert (late.open_now, late.overdue_now) == (1, 1)

    week1 = _row(rows, WEEK1, total=True)
    assert week1.key is None
    assert (week1.opened, week1.within_window_percent) == (4, 50.0)
    assert week1.median_first_contact == timedelta(hours=23)
    assert week1.median_resolve == timedelta(hours=49)
    assert (week1.open_now, week1.overdue_now) == (2, 2)

    quick = _row(rows, WEEK2, "Delivery")
    assert quick.key == delivery.pk
    assert (quick.opened, quick.within_window_percent) == (1, 100.0)
    assert quick.median_first_contact == timedelta(minutes=30)
    assert (quick.open_now, quick.overdue_now) == (1, 1)

    week2 = _row(rows, WEEK2, total=True)
    # The other case of week 2 is still inside its window: it neither met nor missed it.
    assert (week2.opened, week2.contacted_within, week2.decided) == (2, 1, 1)
    assert week2.within_window_percent == 100.0
    assert week2.median_first_contact == timedelta(minutes=30)
    assert week2.median_resolve is None
    assert (week2.open_now, week2.overdue_now) == (2, 1)


def test_per_agent_figures_by_hand(cases, agent, manager):
    rows = sla_rows(PERIOD, "agent", now=NOW)

    week1 = [r for r in rows if r.week == WEEK1]
    assert [(r.key, r.name, r.is_total) for r in week1] == [
        (agent.pk, "Ann Agent", False),
        (manager.pk, "manager", False),  # no name: the username
        (None, "", False),  # unassigned, last
        (None, "", True),
    ]
    ann = _row(rows, WEEK1, "Ann Agent")
    assert (ann.opened, ann.within_window_percent) == (2, 100.0)
    assert ann.median_first_contact == timedelta(hours=13, minutes=10)  # of 3:20 and 23:00
    assert ann.median_resolve == timedelta(hours=26)
    assert (ann.open_now, ann.overdue_now) == (1, 1)

    boss = _row(rows, WEEK1, "manager")
    assert (boss.opened, boss.within_window_percent) == (1, 0.0)
    assert boss.median_first_contact == timedelta(hours=48)
    assert boss.median_resolve == timedelta(hours=72)
    assert (boss.open_now, boss.overdue_now) == (0, 0)

    unassigned = week1[2]
    assert (unassigned.opened, unassigned.open_now, unassigned.overdue_now) == (1, 1, 1)
    assert _row(rows, WEEK1, total=True).opened == 4
    # Week 2 has only unassigned cases: one row and the total.
    assert [(r.key, r.opened, r.is_total) for r in rows if r.week == WEEK2] == [
        (None, 2, False),
        (None, 2, True),
    ]


def test_cases_are_bucketed_by_local_monday_and_the_period_is_inclusive(cases):
    rows = sla_rows(PERIOD, "survey", now=NOW)
    assert _row(rows, WEEK1, "Delivery").opened == 1  # Sunday 23:30
    assert _row(rows, WEEK2, "Delivery").opened == 1  # Monday 00:30: 23:30 on Sunday in UTC
    assert sum(r.opened for r in rows if r.is_total) == 6  # the two outside are left out

    wider = sla_rows(Period(date(2026, 1, 4), date(2026, 1, 19)), "survey", now=NOW)
    assert [r.week for r in wider if r.is_total] == [
        date(2025, 12, 29),
        WEEK1,
        WEEK2,
        date(2026, 1, 19),
    ]
    assert sum(r.opened for r in wider if r.is_total) == 8


def test_first_contact_exactly_at_the_due_time_is_within_the_window(nps_survey):
    _case(nps_survey, at(5, 9), due=at(6, 9), contact=at(6, 9))
    _case(nps_survey, at(5, 9), due=at(6, 9), contact=at(6, 9, 1))
    _case(nps_survey, at(5, 10), due=at(6, 10))

    (row, total) = sla_rows(PERIOD, "survey", now=NOW)

    assert (row.opened, row.contacted_within, row.within_window_percent) == (3, 1, 33.3)
    assert row.median_first_contact == timedelta(hours=24, seconds=30)  # of 24:00 and 24:01
    assert total.is_total


def test_anything_but_agent_groups_per_survey(cases):
    assert sla_rows(PERIOD, "nonsense", now=NOW) == sla_rows(PERIOD, "survey", now=NOW)


def test_no_cases_no_rows():
    assert sla_rows(PERIOD, "survey") == []
    assert sla_rows(PERIOD, "agent") == []


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (None, "\u2013"),
        (timedelta(0), "0 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(minutes=59, seconds=40), "1 h"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=3, minutes=20), "3 h 20 min"),
        (timedelta(hours=23, minutes=59, seconds=40), "1 d"),
        (timedelta(hours=26), "1 d 2 h"),
        (timedelta(days=2, minutes=20), "2 d"),
        (timedelta(days=12, hours=5, minutes=40), "12 d 6 h"),
        (timedelta(minutes=-90), "\u22121 h 30 min"),
    ],
)
def test_human_duration(duration, text):
    assert human_duration(duration) == text


def test_anonymous_visitors_are_sent_to_log_in(client):
    page = client.get(reverse("metrics:sla"))
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("login"))


def test_people_outside_managers_and_agents_are_refused(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("metrics:sla")).status_code == 403


@pytest.mark.parametrize("persona", ["manager", "agent"])
def test_managers_and_agents_read_the_report(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert reverse("metrics:sla") == "/followups/sla/"
    assert client.get(reverse("metrics:sla")).status_code == 200


def test_the_report_only_answers_safe_methods(client, manager):
    client.force_login(manager)
    assert client.post(reverse("metrics:sla")).status_code == 405


def test_empty_report_says_so(client, manager):
    client.force_login(manager)
    html = client.get(reverse("metrics:sla")).content.decode()
    assert "No follow-up cases in this period." in html
    assert "<svg" not in html
    assert 'aria-current="page">Per survey' in html


def test_report_page_per_survey_and_per_agent(client, manager, cases):
    client.force_login(manager)
    period = {"start": "2026-01-05", "end": "2026-01-18"}

    html = client.get(reverse("metrics:sla"), period).content.decode()

    assert "No follow-up cases in this period." not in html
    assert "Billing" in html and "Delivery" in html
    assert "66.7%" in html and "50.0%" in html and "100.0%" in html
    assert "23 h" in html and "2 d 1 h" in html and "30 min" in html
    assert "2 overdue" in html  # week 1 in total; marked in words
    assert "<svg" in html and "Show as a table" in html
    assert 'aria-current="page">Per survey' in html
    assert "by=agent" in html and "start=2026-01-05" in html

    html = client.get(reverse("metrics:sla"), period | {"by": "agent"}).content.decode()

    assert "Ann Agent" in html and "Unassigned" in html
    assert "13 h 10 min" in html and "1 d 2 h" in html
    assert 'aria-current="page">Per agent' in html
    assert "All cases this week" in html


def test_report_runs_a_fixed_number_of_queries(
    client, manager, agent, django_assert_max_num_queries
):
    client.force_login(manager)
    now = timezone.now()
    first = SurveyFactory()
    for i in range(3):
        _case(first, now - timedelta(days=i, hours=2), contact=now - timedelta(days=i))
    with django_assert_max_num_queries(4) as small_run:
        page = client.get(reverse("metrics:sla"), {"by": "agent"})
    assert page.status_code == 200

    surveys = [first, SurveyFactory(), SurveyFactory()]
    for i in range(37):
        _case(
            surveys[i % 3],
            now - timedelta(days=i * 2, hours=3),
            contact=now - timedelta(days=i * 2) if i % 4 else None,
            resolved=now - timedelta(days=i) if i % 5 == 0 else None,
            assignee=[agent, manager, None][i % 3],
        )
    assert FollowUp.objects.count() == 40
    for by in ("agent", "survey"):
        with django_assert_max_num_queries(len(small_run.captured_queries)):
            page = client.get(reverse("metrics:sla"), {"by": by})
        assert page.status_code == 200


class _Markup(HTMLParser):
    """Every number the browser reads from the page's markup: SVG geometry and CSS lengths."""

    GEOMETRY = {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"}

    def __init__(self) -> None:
        super().__init__()
        self.numbers: list[tuple[str, str]] = []
        self.in_svg = 0

    def handle_starttag(self, tag, attrs):
        self.in_svg += tag == "svg"
        for name, value in attrs:
            if name == "style" and value:
                self.numbers += [("style", n) for n in re.findall(r":\s*([^;%a-z]+)", value)]
            elif self.in_svg and name in self.GEOMETRY:
                self.numbers.append((name, value))
            elif self.in_svg and name == "viewbox":
                self.numbers += [(name, n) for n in value.split()]
            elif self.in_svg and name == "points":
                for pair in value.split():
                    x, y = pair.split(",")  # exactly one comma: between x and y
                    self.numbers += [(name, x), (name, y)]

    def handle_endtag(self, tag):
        self.in_svg -= tag == "svg"


@pytest.mark.parametrize(("language", "share"), [("en", "66.7%"), ("nl", "66,7%")])
def test_the_chart_is_drawn_with_plain_numbers_in_every_language(
    client, manager, cases, language, share
):
    client.force_login(manager)
    period = {"start": "2026-01-05", "end": "2026-01-18"}

    page = client.get(reverse("metrics:sla"), period, HTTP_ACCEPT_LANGUAGE=language)

    html = page.content.decode()
    assert f'<html lang="{language}"' in html
    markup = _Markup()
    markup.feed(html)
    assert any(name == "cx" for name, _ in markup.numbers), "the chart has its dots"
    for _name, number in markup.numbers:
        float(number.strip())  # a decimal comma would not parse: the chart would break
    assert share in html  # numbers people read follow their language


def test_a_share_with_nothing_decided_yet_is_a_dash(client, manager, cases):
    rows = sla_rows(PERIOD, "survey", now=NOW)
    waiting = _row(rows, WEEK2, "Billing")  # its only case is not due until after now
    assert (waiting.opened, waiting.decided, waiting.within_window_percent) == (1, 0, None)
    assert waiting.within_window_text == "\u2013"
    client.force_login(manager)

    html = client.get(reverse("metrics:sla"), {"start": "2026-01-05", "end": "2026-01-18"})

    assert '<td class="text-end">%</td>' not in html.content.decode()
    assert '<td class="text-end">\u2013</td>' in html.content.decode()


def test_medians_are_the_same_on_every_database(nps_survey):
    """percentile_cont on PostgreSQL, the registered MEDIAN on SQLite: between two middle
    values, the lower plus half the gap, rounded half to even to a microsecond."""
    start = at(5, 9)
    for micros in (1, 4):
        _case(nps_survey, start, contact=start + timedelta(microseconds=micros))
    for hours in (1, 2, 4):
        _case(nps_survey, at(12, 9), resolved=at(12, 9 + hours))

    rows = sla_rows(PERIOD, "survey", now=NOW)

    assert _row(rows, WEEK1, total=True).median_first_contact == timedelta(microseconds=3)
    assert _row(rows, WEEK2, total=True).median_resolve == timedelta(hours=2)
    assert _row(rows, WEEK2, total=True).median_first_contact is None


@pytest.mark.postgres
@pytest.mark.parametrize("by", ["agent", "survey"])
def test_postgresql_reads_the_report_in_order_from_an_index(cases, by):
    """The report's weeks and groups come out of an index in order, with every column its
    figures need, so no sort, however many cases there are. For a table this small the
    planner would rather scan and sort, so those choices are discouraged (a sort it
    cannot avoid still shows)."""
    with CaptureQueriesContext(connection) as report:
        sla_rows(PERIOD, by, now=NOW)
    (query,) = [q["sql"] for q in report.captured_queries if "metrics_followup" in q["sql"]]
    with connection.cursor() as cursor:
        for other_way in ("seqscan", "bitmapscan", "sort"):
            cursor.execute(f"SET LOCAL enable_{other_way} = off")
        cursor.execute(f"EXPLAIN {query}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert f"followup_sla_by_{'assignee' if by == 'agent' else by}" in plan
    assert "Sort" not in plan


@pytest.mark.parametrize(
    ("language", "day", "week"), [("en", "5 Jan 2026", "12 Jan"), ("nl", "5 jan 2026", "12 jan")]
)
def test_dates_are_written_as_each_language_writes_them(
    client, manager, cases, language, day, week
):
    """Dutch writes a month in lower case: "5 jan 2026", not "5 Jan 2026"."""
    client.force_login(manager)
    period = {"start": "2026-01-05", "end": "2026-01-18"}

    html = client.get(reverse("metrics:sla"), period, HTTP_ACCEPT_LANGUAGE=language).content

    assert f"<td>{day}</td>".encode() in html  # the table's week
    assert f">{week}</text>".encode() in html  # the chart's axis


def test_the_tables_note_is_outside_its_scrolling_box(client, manager, cases):
    """On a phone the table scrolls sideways; a note inside it was cut at the screen's edge."""
    client.force_login(manager)

    html = client.get(reverse("metrics:sla"), {"start": "2026-01-05", "end": "2026-01-18"})

    html = html.content.decode()
    note = html.index("Medians count from the moment a case was opened.")
    box = html.index('<div class="table-responsive"', html.index('id="sla-table"'))
    assert note < box
    assert 'aria-describedby="sla-note"' in html


def test_cases_of_answers_excluded_as_a_burst_do_not_count(nps_survey):
    """A burst taken out of the scores is no one to call back: its cases, resolved by the
    exclusion and never contacted, would count as missed. Counted again when included."""
    _case(nps_survey, at(5, 9), contact=at(5, 10))  # contacted within the window
    burst = [_case(nps_survey, at(5, 9)) for _ in range(3)]
    Response.objects.filter(followup__in=burst).update(fingerprint="f" * 64)

    exclude_burst(survey=nps_survey, fingerprint="f" * 64)
    week = _row(sla_rows(PERIOD, "survey", now=NOW), WEEK1, total=True)
    assert (week.opened, week.decided, week.contacted_within) == (1, 1, 1)
    assert week.within_window_percent == 100.0

    include_burst(survey=nps_survey, fingerprint="f" * 64)
    week = _row(sla_rows(PERIOD, "survey", now=NOW), WEEK1, total=True)
    assert (week.opened, week.decided, week.contacted_within) == (4, 4, 1)


def test_the_migration_sets_aside_the_cases_of_answers_excluded_before_it(nps_survey):
    migration = "metrics.migrations.0021_followup_set_aside"
    step = __import__(migration, fromlist=["x"]).set_aside_the_cases_of_excluded_answers
    state = MigrationExecutor(connection).loader.project_state(
        ("metrics", "0021_followup_set_aside")
    )
    excluded, counted = _case(nps_survey, at(5, 9)), _case(nps_survey, at(5, 10))
    Response.objects.filter(followup=excluded).update(excluded_at=NOW)

    step(state.apps, None)

    assert list(FollowUp.objects.filter(set_aside=True)) == [excluded]
    assert FollowUp.objects.get(pk=counted.pk).set_aside is False
