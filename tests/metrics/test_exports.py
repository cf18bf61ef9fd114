"""Staff exports: the right responses, every answer, and no formula reaches a spreadsheet."""

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import openpyxl
import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone, translation

from metrics import exports
from metrics.exports import csv_response, export_rows, neutralise, xlsx_response
from metrics.periods import Period
from surveys.models import Response, Survey
from surveys.services import submit_response
from tests.factories import CustomerFactory, InvitationFactory, SurveyFactory, know

pytestmark = pytest.mark.django_db

PERIOD = Period(start=date(2025, 3, 1), end=date(2025, 3, 31))
HEADER = [
    "Response",
    "Submitted at",
    "Language",
    "Touchpoint",
    "Channel",
    "Customer reference",
    "Customer email",
    "Customer segment",
    "How likely is it that you would recommend Acme to a friend or colleague?",
    "What is the main reason for your score?",
    "Metadata",
    "Excluded from the scores at",
]
INJECTIONS = ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd"]


def _local(day: date, at: time = time(12)) -> datetime:
    return timezone.make_aware(datetime.combine(day, at))


def _submit(survey, score, comment="", at=None, language="en", customer=None, **metadata):
    questions = {q.role: q for q in survey.questions.all()}
    answers = {questions["nps"]: score, questions["comment"]: comment}
    invitation = InvitationFactory(survey=survey, customer=customer) if customer else None
    know(survey, **metadata)
    response = submit_response(
        survey=survey, answers=answers, metadata=metadata, language=language, invitation=invitation
    )
    at = at or _local(PERIOD.start + timedelta(days=9))
    Response.objects.filter(pk=response.pk).update(submitted_at=at)
    return response


def _csv(response) -> list[list[str]]:
    return _csv_rows(b"".join(response.streaming_content))


def _csv_rows(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _xlsx(response) -> list[tuple]:
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert len(workbook.worksheets) == 1
    return [tuple(row) for row in workbook.worksheets[0].iter_rows()]


def test_csv_has_the_header_and_one_row_per_response_with_every_field():
    survey = SurveyFactory(template="nps", name="Customer NPS: Q1 (café)")
    customer = CustomerFactory(ref="C1", email="ann@example.com", segment="enterprise")
    with_customer = _submit(
        survey,
        9,
        "Great service, merci à vous",
        at=_local(date(2025, 3, 10), time(9, 30, 15)),
        customer=customer,
        ref="C1",
        touchpoint="support",
        channel="email",
        zeta="last",
    )
    anonymous = _submit(survey, 3, at=_local(date(2025, 3, 11), time(23, 59)), language="nl")

    response = csv_response(survey, PERIOD)

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="customer-nps-q1-cafe-2025-03-01-2025-03-31.csv"'
    )
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    assert _csv_rows(raw) == [
        HEADER,
        [
            str(with_customer.pk),
            "2025-03-10T09:30:15+01:00",
            "en",
            "support",
            "email",
            "C1",
            "ann@example.com",
            "enterprise",
            "9",
            "Great service, merci à vous",
            '{"channel":"email","ref":"C1","touchpoint":"support","zeta":"last"}',
            "",
        ],
        [
            str(anonymous.pk),
            "2025-03-11T23:59:00+01:00",
            "nl",
            "",
            "link",
            "",
            "",
            "",
            "3",
            "",
            "{}",
            "",
        ],
    ]


def test_an_answer_excluded_from_the_scores_is_exported_saying_since_when():
    survey = SurveyFactory(template="nps")
    kept = _submit(survey, 9)
    excluded = _submit(survey, 0)
    Response.objects.filter(pk=excluded.pk).update(excluded_at=_local(date(2025, 3, 12), time(8)))

    rows = {row[0]: row[-1] for row in _csv(csv_response(survey, PERIOD))[1:]}

    assert rows == {str(kept.pk): "", str(excluded.pk): "2025-03-12T08:00:00+01:00"}


def test_the_period_is_inclusive_local_days_in_the_current_time_zone():
    survey = SurveyFactory(template="nps")
    before = _submit(survey, 1, at=_local(PERIOD.start - timedelta(days=1), time(23, 59, 59)))
    first = _submit(survey, 2, at=_local(PERIOD.start, time(0, 0)))
    last = _submit(survey, 3, at=_local(PERIOD.end, time(23, 59, 59, 999999)))
    after = _submit(survey, 4, at=_local(PERIOD.end + timedelta(days=1), time(0, 0)))
    _submit(SurveyFactory(template="nps"), 5)  # another survey's response

    ids = [row[0] for row in _csv(csv_response(survey, PERIOD))[1:]]

    assert ids == [str(first.pk), str(last.pk)]
    assert timezone.localdate(Response.objects.get(pk=before.pk).submitted_at) < PERIOD.start
    assert timezone.localdate(Response.objects.get(pk=after.pk).submitted_at) > PERIOD.end


def test_the_day_boundaries_follow_the_active_time_zone():
    survey = SurveyFactory(template="nps")
    late = _submit(survey, 7, at=datetime(2025, 3, 31, 23, 30, tzinfo=UTC))

    with timezone.override("UTC"):
        assert [row[0] for row in export_rows(survey, PERIOD)][1:] == [late.pk]
    with timezone.override("Europe/Amsterdam"):  # 01:30 on 1 April there
        assert list(export_rows(survey, PERIOD))[1:] == []
    with timezone.override("America/New_York"):  # 19:30 on 31 March there
        assert list(export_rows(survey, PERIOD))[1][1] == "2025-03-31T19:30:00-04:00"


def test_rows_are_ordered_by_submission_time_then_id():
    survey = SurveyFactory(template="nps")
    noon = _local(date(2025, 3, 5))
    later = _submit(survey, 1, at=noon + timedelta(hours=1))
    tied_first = _submit(survey, 2, at=noon)
    tied_second = _submit(survey, 3, at=noon)

    ids = [row[0] for row in export_rows(survey, PERIOD)][1:]

    assert ids == [tied_first.pk, tied_second.pk, later.pk]


@pytest.mark.parametrize("comment", INJECTIONS)
def test_neutralise_prefixes_formula_triggers_with_a_quote(comment):
    assert neutralise(comment) == "'" + comment


@pytest.mark.parametrize("value", ["Fine", "", "'=already", "9 out of 10", 9, -2, None])
def test_neutralise_leaves_other_values_alone(value):
    assert neutralise(value) == value


def test_csv_neutralises_formulas_in_every_text_cell():
    survey = SurveyFactory(template="nps")
    for score, comment in enumerate([*INJECTIONS, "Fine"]):
        _submit(survey, score, comment, at=_local(date(2025, 3, 2 + score)))
    _submit(survey, 10, "ok", at=_local(date(2025, 3, 20)), touchpoint="=1+1", channel="@x")

    rows = _csv(csv_response(survey, PERIOD))[1:]

    assert [row[9] for row in rows] == [*("'" + c for c in INJECTIONS), "Fine", "ok"]
    assert [row[8] for row in rows] == [str(score) for score in range(len(INJECTIONS) + 1)] + ["10"]
    assert rows[-1][3:5] == ["'=1+1", "'@x"]


def test_xlsx_neutralises_formulas_and_keeps_scores_as_numbers():
    survey = SurveyFactory(template="nps", name="Café survey")
    for score, comment in enumerate([*INJECTIONS, "Fine", "#N/A"]):
        _submit(survey, score, comment, at=_local(date(2025, 3, 2 + score)), touchpoint="-x")

    response = xlsx_response(survey, PERIOD)

    assert isinstance(response, FileResponse)
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    assert response["Content-Disposition"] == (
        'attachment; filename="cafe-survey-2025-03-01-2025-03-31.xlsx"'
    )
    header, *rows = _xlsx(response)
    assert [cell.value for cell in header] == HEADER
    # XML reads a carriage return back as a line feed; the cell stays neutralised.
    assert [row[9].value for row in rows] == [
        *("'" + c.replace("\r", "\n") for c in INJECTIONS),
        "Fine",
        "#N/A",
    ]
    assert all(row[9].data_type == "s" for row in rows)
    assert [row[8].value for row in rows] == list(range(len(INJECTIONS) + 2))
    assert all(type(row[8].value) is int and row[8].data_type == "n" for row in rows)
    assert all(type(row[0].value) is int for row in rows)
    assert {row[3].value for row in rows} == {"'-x"}
    assert not [cell for row in rows for cell in row if cell.data_type in ("f", "e")]


def test_xlsx_removes_control_characters_that_workbooks_refuse_before_neutralising():
    survey = SurveyFactory(template="nps")
    _submit(survey, 5, "\x01=cmd\x1b")

    _header, row = _xlsx(xlsx_response(survey, PERIOD))

    assert row[9].value == "'=cmd"
    assert row[9].data_type == "s"


def test_empty_survey_exports_the_header_only():
    survey = SurveyFactory(template="nps")
    _submit(survey, 9, at=_local(PERIOD.start - timedelta(days=1)))

    assert _csv(csv_response(survey, PERIOD)) == [HEADER]
    assert [[cell.value for cell in row] for row in _xlsx(xlsx_response(survey, PERIOD))] == [
        HEADER
    ]


def test_every_question_of_the_survey_has_a_column_in_position_order():
    survey = SurveyFactory(template="loyalty", company="Acme")
    questions = list(survey.questions.order_by("position"))
    submit_response(
        survey=survey,
        answers={questions[0]: 8, questions[2]: 10, questions[3]: "Good"},
        language="en",
    )
    period = Period.last(1)

    header, row = export_rows(survey, period)

    assert header[8:-2] == [q.text_en for q in questions]
    assert row[8:-2] == [8, "", 10, "Good"]


def test_header_labels_are_translated_into_the_language_of_the_request():
    survey = SurveyFactory(template="nps")

    with translation.override("nl"):
        header = next(export_rows(survey, PERIOD))

    assert header[2] == "Taal"
    # Question columns are the English wording whatever the language.
    assert header[8] == HEADER[8]


@pytest.mark.parametrize("export", [csv_response, xlsx_response])
def test_queries_do_not_grow_with_the_number_of_responses(export, django_assert_max_num_queries):
    survey = SurveyFactory(template="nps")
    customer = CustomerFactory(ref="C9")
    for count in (5, 50):
        while Response.objects.filter(survey=survey).count() < count:
            _submit(survey, count % 11, "why", customer=customer, ref=customer.ref)
        with django_assert_max_num_queries(3):
            response = export(survey, PERIOD)
            content = b"".join(response.streaming_content)
        rows = _csv_rows(content) if export is csv_response else _xlsx_rows(content)
        assert len(rows) == 1 + count


def _xlsx_rows(raw: bytes) -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(raw)).worksheets[0].values)


def test_questions_the_caller_prefetched_are_not_read_again(django_assert_num_queries):
    survey = SurveyFactory(template="nps")
    _submit(survey, 9, "Good")
    survey = Survey.objects.prefetch_related("questions").get(pk=survey.pk)

    # The responses and their answers.
    with django_assert_num_queries(2):
        assert len(list(export_rows(survey, PERIOD))) == 2


def test_responses_are_read_in_chunks_with_one_answer_query_per_chunk(
    monkeypatch, django_assert_num_queries
):
    survey = SurveyFactory(template="nps")
    submitted = [
        _submit(survey, n % 11, f"c{n}", at=_local(date(2025, 3, 3 + n))) for n in range(25)
    ]
    monkeypatch.setattr(exports, "CHUNK_SIZE", 10)

    # The questions, the responses, and the answers of each of the 3 chunks.
    with django_assert_num_queries(5):
        rows = list(export_rows(survey, PERIOD))[1:]

    assert [row[0] for row in rows] == [r.pk for r in submitted]
    assert [row[8:10] for row in rows] == [[n % 11, f"c{n}"] for n in range(25)]
