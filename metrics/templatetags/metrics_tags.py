"""How scores read on a page: formatting only, no arithmetic beyond rounding."""

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from metrics.scores import Headline

register = template.Library()

BANDS = {
    "needs_work": _("Needs work"),
    "good": _("Good"),
    "excellent": _("Excellent"),
    "world_class": _("World class"),
}
DECIMALS = {"nps": 0, "percent": 0, "mean7": 1, "mean10": 1}


def _number(value: float, unit: str) -> str:
    # number_format cuts off decimals; round first. Adding 0.0 turns -0.0 into 0.0.
    places = DECIMALS[unit]
    return number_format(round(value, places) + 0.0, places)


@register.filter
def score(headline: Headline) -> str:
    """The headline value as people read it: "+32", "81%", "5.6"; a dash when unknown."""
    value = headline.score.value
    if value is None:
        return "\u2013"  # an en dash: no score
    text = _number(value, headline.unit)
    if headline.unit == "nps" and text.lstrip("0.,") and value > 0:
        return f"+{text}"
    return f"{text}%" if headline.unit == "percent" else text


@register.filter
def margin(headline: Headline) -> str:
    if headline.score.margin is None:
        return ""
    return "± " + _number(headline.score.margin, headline.unit)


@register.filter
def band(name: str | None) -> str:
    return str(BANDS.get(name or "", ""))


@register.filter
def points(change: float | None, headline: Headline) -> str:
    """A change between periods with its sign, in the headline's units."""
    if change is None:
        return ""
    text = _number(abs(change), headline.unit)
    return ("+" if change >= 0 else "\u2212") + text  # a true minus sign


@register.filter
def percent_of(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0
