"""The date range a dashboard or export covers, read from `?from=...&to=...`."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DEFAULT_DAYS = 90
MAX_DAYS = 5 * 366
# Dates people may ask for; far-off ones would overflow the date arithmetic.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
# Up to this many days the trend is drawn per week, beyond it per month.
WEEKLY_UP_TO = 180


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @classmethod
    def last(cls, days: int, today: date | None = None) -> "Period":
        end = today or timezone.localdate()
        return cls(start=end - timedelta(days=days - 1), end=end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def bucket(self) -> str:
        return "week" if self.days <= WEEKLY_UP_TO else "month"

    def bounds(self) -> tuple[datetime, datetime]:
        """From local midnight at the start to local midnight after the end."""
        zone = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone),
        )

    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        return Period(
            start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1)
        )


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("start", "end"):
            chosen = cleaned.get(name)
            if chosen and not EARLIEST <= chosen <= LATEST:
                raise forms.ValidationError(
                    _("Choose dates between %(earliest)s and %(latest)s."),
                    params={"earliest": EARLIEST.year, "latest": LATEST.year},
                )
        end = cleaned.get("end") or timezone.localdate()
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError(_("The start date must not be after the end date."))
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(
                _("Choose a range of at most %(years)d years."), params={"years": MAX_DAYS // 366}
            )
        cleaned["period"] = Period(start=start, end=end)
        return cleaned

    @property
    def period(self) -> Period:
        """The chosen period; the last 90 days when the choice is not valid."""
        if self.is_valid():
            return self.cleaned_data["period"]
        return Period.last(DEFAULT_DAYS)


# Calendar periods of the loyalty KPIs, with the number of months in each.
UNIT_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _month_start(year: int, month: int) -> date:
    """The first day of a month counted on from January of `year` (month 13 is January after)."""
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def calendar_period(unit: str, day: date) -> Period:
    """The month, quarter or year that `day` falls in."""
    months = UNIT_MONTHS[unit]
    first = (day.month - 1) // months * months + 1
    start = date(day.year, first, 1)
    return Period(start=start, end=_month_start(day.year, first + months) - timedelta(days=1))


def calendar_periods(unit: str, last: date, count: int) -> list[Period]:
    """The `count` months, quarters or years up to the one `last` falls in, oldest first."""
    periods = [calendar_period(unit, last)]
    while len(periods) < count:
        periods.insert(0, calendar_period(unit, periods[0].start - timedelta(days=1)))
    return periods
