"""How scores read on a page: formatting only, no arithmetic beyond rounding."""

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from metrics import scoring
from metrics.scores import Headline

register = template.Library()

BANDS = {
    "needs_work": _("Needs work"),
    "good": _("Good"),
    "excellent": _("Excellent"),
    "world_class": _("World class"),
}
DECIMALS = {"nps": 0, "percent": 0, "mean7": 1, "mean10": 1}
NOTHING = "\u2013"  # an en dash: no value


def _rounded(value: float, unit: str) -> float:
    # Adding 0.0 turns -0.0 into 0.0.
    return round(value, DECIMALS[unit]) + 0.0


def _number(value: float, unit: str) -> str:
    # number_format cuts off decimals; round first.
    return number_format(_rounded(value, unit), DECIMALS[unit])


@register.simple_tag
def small_sample_size() -> int:
    return scoring.SMALL_SAMPLE


@register.filter
def score(headline: Headline) -> str:
    """The headline value as people read it: "+32", "81%", "5.6"; a dash when unknown."""
    value = headline.score.value
    if value is None:
        return NOTHING
    text = _number(value, headline.unit)
    if headline.unit == "nps" and text.lstrip("0.,") and value > 0:
        return f"+{text}"
    return f"{text}%" if headline.unit == "percent" else text


@register.filter
def margin(headline: Headline) -> str:
    """The margin of error, "± 26"; nothing when it is unknown."""
    if headline.margin is None:
        return ""
    return "± " + _number(headline.margin, headline.unit)


@register.filter
def band(name: str | None) -> str:
    return str(BANDS.get(name or "", ""))


@register.filter
def points(change: float | None, headline: Headline) -> str:
    """A change between periods with its sign, in the headline's units."""
    if change is None:
        return ""
    text = _number(abs(change), headline.unit)
    sign = {"up": "+", "down": "\u2212", "same": ""}  # a true minus sign
    return sign[direction(change, headline)] + text


@register.filter
def direction(change: float | None, headline: Headline) -> str:
    """Which way the score moved: "up", "down", or "same" when the change rounds to 0."""
    shown = 0.0 if change is None else _rounded(change, headline.unit)
    return "up" if shown > 0 else "down" if shown < 0 else "same"


@register.filter
def share(percent: float | None) -> str:
    """A share of answers as people read it, "46.2%"; a dash when there were none."""
    return NOTHING if percent is None else number_format(round(percent, 1), 1) + "%"
