"""Staff exports of a survey's responses, with every answer and its metadata, as CSV or XLSX.

Both formats come from `export_rows`, which reads the responses in chunks, so an export
takes the same memory and a handful of queries however many responses there are.
Respondents control comments, metadata, touchpoint and channel, so every text cell is
cleaned of what XML cannot hold and neutralised against spreadsheet formula injection
(`neutralise`) before either format writes it.
"""

import csv
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from itertools import chain
from typing import overload

from django.db.models import Prefetch
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES

from metrics import kpi_report
from metrics.kpis import PeriodKpis
from metrics.periods import Period
from surveys.models import Answer, Question, Response, Survey
from surveys.text import xml_safe

CHUNK_SIZE = 2000
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


@overload
def neutralise(value: str) -> str: ...
@overload
def neutralise(value: object) -> object: ...
def neutralise(value: object) -> object:
    """A text cell without the characters XML cannot hold (one answer with U+FFFF would
    make the whole workbook unreadable), made plain text with a `'` when a spreadsheet
    would read it as a formula. Removing comes first: what is left may start a formula."""
    if not isinstance(value, str):
        return value
    value = xml_safe(value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def export_rows(survey: Survey, period: Period) -> Iterator[list[object]]:
    """The header, then one row per response of `survey` submitted (local date) in `period`.

    The header's language, the time zone and the questions are taken now, from the request
    that asks for the export; the responses are read as the rows are consumed.
    """
    zone = timezone.get_current_timezone()
    # all(), so that questions the caller prefetched are not read again.
    questions = sorted(survey.questions.all(), key=lambda question: question.position)
    header: list[object] = [
        _("Response"),
        _("Submitted at"),
        _("Language"),
        _("Touchpoint"),
        _("Channel"),
        _("Customer reference"),
        _("Customer email"),
        _("Customer segment"),
        *(question.text_en for question in questions),
        _("Metadata"),
        _("Excluded from the scores at"),
    ]
    return chain([[neutralise(cell) for cell in header]], _rows(survey, period, questions, zone))


def _rows(
    survey: Survey, period: Period, questions: list[Question], zone: tzinfo
) -> Iterator[list[object]]:
    # A datetime range rather than a date lookup, so the (survey, submitted_at) index is used.
    since, until = period.bounds()
    responses = (
        Response.objects.filter(survey=survey, submitted_at__gte=since, submitted_at__lt=until)
        .select_related("customer")
        .prefetch_related(
            Prefetch(
                "answers",
                queryset=Answer.objects.only("response_id", "question_id", "value", "text"),
            )
        )
        .order_by("submitted_at", "pk")
    )
    for response in responses.iterator(chunk_size=CHUNK_SIZE):
        answers = {answer.question_id: answer for answer in response.answers.all()}
        customer = response.customer
        row: list[object] = [
            response.pk,
            _local(response.submitted_at, zone),
            response.language,
            response.touchpoint,
            response.channel,
            customer.ref if customer else "",
            customer.email if customer else "",
            response.segment,
            *(_cell(answers.get(question.pk)) for question in questions),
            json.dumps(
                response.metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ),
            # A burst that staff took out of the scores (surveys.bursts) is still exported.
            _local(response.excluded_at, zone) if response.excluded_at else "",
        ]
        yield [neutralise(cell) for cell in row]


def _local(moment: datetime, zone: tzinfo) -> str:
    return timezone.localtime(moment, zone).isoformat(timespec="seconds")


def _cell(answer: Answer | None) -> int | str:
    if answer is None:
        return ""
    return answer.value if answer.value is not None else answer.text


def filename(survey: Survey, period: Period, extension: str) -> str:
    """E.g. `customer-nps-2025-01-01-2025-03-31.csv`."""
    name = slugify(survey.name) or "survey"
    return f"{name}-{period.start.isoformat()}-{period.end.isoformat()}.{extension}"


class _Echo:
    """A pseudo-buffer: the csv writer's `write` hands back the line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_response(survey: Survey, period: Period) -> StreamingHttpResponse:
    """The export as CSV, streamed; UTF-8 with a BOM so that Excel reads accents."""
    writer = csv.writer(_Echo())
    rows = export_rows(survey, period)
    lines: Iterable[str] = chain([BOM], (writer.writerow(row) for row in rows))
    response = StreamingHttpResponse(lines, content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = _attachment(filename(survey, period, "csv"))
    return response


def _attachment(name: str) -> str:
    # `name` is a slug and ISO dates: nothing to quote or encode.
    return f'attachment; filename="{name}"'


def xlsx_response(survey: Survey, period: Period) -> FileResponse:
    """The export as an XLSX workbook, built in a temporary file (deleted once sent)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Responses")[:31])
    for row in export_rows(survey, period):
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    file = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (FileResponse closes it)
    try:
        workbook.save(file)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return FileResponse(
        file,
        as_attachment=True,
        filename=filename(survey, period, "xlsx"),
        content_type=XLSX_CONTENT_TYPE,
    )


def _xlsx_cell(sheet: object, value: object) -> object:
    """A value openpyxl stores as it is: text stays text, numbers stay numbers."""
    if not isinstance(value, str):
        return value
    if value in ERROR_CODES:  # e.g. a comment "#N/A", which openpyxl would store as an error
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


def kpi_csv_response(choice: kpi_report.Choice, trend: list[PeriodKpis]) -> HttpResponse:
    """The KPIs of the trend's periods as CSV, numbers never localised; a dozen rows."""
    response = HttpResponse(BOM, content_type=CSV_CONTENT_TYPE)
    writer = csv.writer(response)
    for row in kpi_report.csv_rows(choice, trend):
        writer.writerow([neutralise(cell) for cell in row])
    segment = f"-{slugify(choice.segment)}" if slugify(choice.segment) else ""
    name = f"kpis-{choice.unit}-{choice.period.start.isoformat()}{segment}.csv"
    response["Content-Disposition"] = _attachment(name)
    return response
