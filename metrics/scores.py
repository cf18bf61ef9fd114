"""Which score heads each kind of survey, and which answers count as unhappy.

Pure: counts in, scores out. The formulas themselves live in metrics/scoring.py.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from metrics import scoring
from metrics.scoring import Groups, Score

Counts = Mapping[int, int]

# The question whose answer decides whether a respondent is unhappy, per survey kind.
KEY_ROLE = {"nps": "nps", "csat": "csat", "ces": "ces", "loyalty": "recommend"}


@dataclass(frozen=True)
class Headline:
    score: Score
    band: str | None
    groups: Groups | None
    # How the value reads: "nps" (-100..100), "percent", "mean7" or "mean10".
    unit: str
    # Further scores of the same answers, by name: net CES and % agree for CES, the
    # three question means for the loyalty ratio.
    details: tuple[tuple[str, "Headline"], ...] = ()

    @property
    def small_sample(self) -> bool:
        return scoring.is_small_sample(self.score.n)

    @property
    def margin(self) -> float | None:
        """The margin of error; None where it is unknown: below 2 answers, and 0 from a
        small sample, whose few equal answers show no spread rather than certainty."""
        if self.small_sample and self.score.margin == 0:
            return None
        return self.score.margin


def headline(kind: str, counts: Mapping[str, Counts], yes_no: bool = False) -> Headline:
    """The survey's headline score from its answer counts per question role."""
    key = counts.get(KEY_ROLE[kind], {})
    if kind == "nps":
        score = scoring.nps(key)
        return Headline(score, scoring.nps_band(score.value), scoring.nps_groups(key), "nps")
    if kind == "csat":
        score = scoring.csat(key, yes_no=yes_no)
        return Headline(score, None, scoring.csat_groups(key, yes_no=yes_no), "percent")
    if kind == "ces":
        score = scoring.ces_mean(key)
        details: tuple[tuple[str, Headline], ...] = (
            ("net", Headline(scoring.ces_net(key), None, None, "nps")),
            ("agree", Headline(scoring.ces_agree(key), None, None, "percent")),
        )
        band = scoring.ces_band(score.value)
        return Headline(score, band, scoring.ces_groups(key), "mean7", details)
    parts = [counts.get(role, {}) for role in ("purchase", "upsell", "recommend")]
    details = tuple(
        (role, Headline(scoring.mean(part, scoring.LOYALTY_SCALE), None, None, "mean10"))
        for role, part in zip(("purchase", "upsell", "recommend"), parts, strict=True)
    )
    return Headline(scoring.loyalty_ratio(*parts), None, None, "mean10", details)


def default_threshold(kind: str, yes_no: bool = False) -> int:
    """The highest unhappy answer to the key question (DESIGN, follow-up rules)."""
    if kind == "csat":
        return 0 if yes_no else 2
    if kind == "ces":
        return 3
    return 6  # NPS 0-6, and "recommend" 0-6 for the loyalty ratio


def tone(kind: str, value: int, yes_no: bool = False, threshold: int | None = None) -> str:
    """How an answer to the key question reads: "good", "neutral" or "bad".

    Bad is the follow-up rule (the survey's threshold, else the default); good is the
    top group of metrics.scoring (promoters, satisfied, agree).
    """
    if value <= (default_threshold(kind, yes_no) if threshold is None else threshold):
        return "bad"
    one = {value: 1}
    if kind == "csat":
        groups = scoring.csat_groups(one, yes_no=yes_no)
    else:
        groups = scoring.ces_groups(one) if kind == "ces" else scoring.nps_groups(one)
    return "good" if groups.good else "neutral"


def change(current: Score, previous: Score) -> float | None:
    """How far the score moved since the previous period; None when either has no answers."""
    if current.value is None or previous.value is None:
        return None
    return current.value - previous.value
