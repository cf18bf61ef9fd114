"""Loyalty scores (NPS, CSAT, CES, loyalty ratio) computed from answer counts.

Every function takes `{answer value: number of answers}`, the shape a GROUP BY returns,
so scoring a survey costs the same for ten answers as for a million.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

# Below this many answers the UI warns that the sample is small.
SMALL_SAMPLE = 30

# Two-sided 95% quantile of the normal distribution.
Z95 = 1.96

NPS_SCALE = range(0, 11)
CSAT_SCALE = range(1, 6)
YES_NO_SCALE = range(0, 2)
CES_SCALE = range(1, 8)
LOYALTY_SCALE = range(1, 11)
# The answers of each NPS group.
PROMOTERS, PASSIVES, DETRACTORS = range(9, 11), range(7, 9), range(0, 7)


@dataclass(frozen=True)
class Score:
    # None when there are no answers: a score of 0 would read as a real, mediocre result.
    value: float | None
    n: int
    # 95% margin of error in the units of value; None below 2 answers, where it is undefined.
    margin: float | None


@dataclass(frozen=True)
class Groups:
    good: int
    neutral: int
    bad: int

    @property
    def n(self) -> int:
        return self.good + self.neutral + self.bad

    def _share(self, part: int) -> float | None:
        # None without answers: nobody is not 0% of nobody.
        return 100 * part / self.n if self.n else None

    @property
    def good_share(self) -> float | None:
        return self._share(self.good)

    @property
    def neutral_share(self) -> float | None:
        return self._share(self.neutral)

    @property
    def bad_share(self) -> float | None:
        return self._share(self.bad)


_EMPTY = Score(value=None, n=0, margin=None)


def is_small_sample(n: int) -> bool:
    return n < SMALL_SAMPLE


def _total(counts: Mapping[int, int], scale: range | None) -> int:
    # The database forbids these, so one here is a bug upstream; scoring it anyway
    # would skew the score without a trace.
    for value, count in counts.items():
        if count < 0:
            raise ValueError(f"negative count {count} for answer {value}")
        if scale is not None and value not in scale:
            raise ValueError(f"answer {value} is outside {scale.start}..{scale.stop - 1}")
    return sum(counts.values())


def _tally(counts: Mapping[int, int], values: range) -> int:
    return sum(counts.get(value, 0) for value in values)


def _net(good: int, bad: int, n: int) -> Score:
    """100 * (good - bad) / n with its margin; with bad = 0 it is a plain percentage."""
    if n == 0:
        return _EMPTY
    margin = None
    if n >= 2:
        # Each answer scores +1, 0 or -1; its variance p + d - (p - d)^2 is kept as an
        # integer over n^2 so rounding cannot push it below zero. With d = 0 it is q(1 - q).
        variance = ((good + bad) * n - (good - bad) ** 2) / n**2
        margin = 100 * Z95 * math.sqrt(variance / n)
    return Score(value=100 * (good - bad) / n, n=n, margin=margin)


def mean(counts: Mapping[int, int], scale: range | None = None) -> Score:
    """The mean answer, with margin 1.96 * s / sqrt(n) (s: the sample standard deviation).

    Answers outside `scale`, when one is given, raise ValueError.
    """
    n = _total(counts, scale)
    if n == 0:
        return _EMPTY
    s1 = sum(value * count for value, count in counts.items())
    margin = None
    if n >= 2:
        s2 = sum(value * value * count for value, count in counts.items())
        # The sample variance from integer sums: exact, so never slightly negative.
        variance = (n * s2 - s1 * s1) / (n * (n - 1))
        margin = Z95 * math.sqrt(variance / n)
    return Score(value=s1 / n, n=n, margin=margin)


def nps_groups(counts: Mapping[int, int]) -> Groups:
    _total(counts, NPS_SCALE)
    return Groups(
        good=_tally(counts, PROMOTERS),
        neutral=_tally(counts, PASSIVES),
        bad=_tally(counts, DETRACTORS),
    )


def csat_groups(counts: Mapping[int, int], yes_no: bool = False) -> Groups:
    if yes_no:
        _total(counts, YES_NO_SCALE)
        return Groups(good=counts.get(1, 0), neutral=0, bad=counts.get(0, 0))
    _total(counts, CSAT_SCALE)
    return Groups(
        good=_tally(counts, range(4, 6)),
        neutral=counts.get(3, 0),
        bad=_tally(counts, range(1, 3)),
    )


def ces_groups(counts: Mapping[int, int]) -> Groups:
    _total(counts, CES_SCALE)
    return Groups(
        good=_tally(counts, range(5, 8)),
        neutral=counts.get(4, 0),
        bad=_tally(counts, range(1, 4)),
    )


def nps(counts: Mapping[int, int]) -> Score:
    """Promoters (9-10) minus detractors (0-6), in percent of all answers: -100..100."""
    groups = nps_groups(counts)
    return _net(groups.good, groups.bad, sum(counts.values()))


def csat(counts: Mapping[int, int], yes_no: bool = False) -> Score:
    """Percent satisfied: 4-5 on the 1-5 scale, or 1 (yes) on the yes/no scale."""
    groups = csat_groups(counts, yes_no)
    return _net(groups.good, 0, sum(counts.values()))


def ces_mean(counts: Mapping[int, int]) -> Score:
    return mean(counts, CES_SCALE)


def ces_net(counts: Mapping[int, int]) -> Score:
    """Agree (5-7) minus disagree (1-3), in percent of all answers: -100..100."""
    groups = ces_groups(counts)
    return _net(groups.good, groups.bad, sum(counts.values()))


def ces_agree(counts: Mapping[int, int]) -> Score:
    """Percent who agree (5-7) that the company made things easy."""
    groups = ces_groups(counts)
    return _net(groups.good, 0, sum(counts.values()))


def loyalty_ratio(
    purchase_counts: Mapping[int, int],
    upsell_counts: Mapping[int, int],
    recommend_counts: Mapping[int, int],
) -> Score:
    """The mean of the three 1-10 question means.

    n is the smallest of the three question counts. The margin is that of a mean of three
    independent means, 1.96 * sqrt(se1^2 + se2^2 + se3^2) / 3.
    """
    means = [mean(c, LOYALTY_SCALE) for c in (purchase_counts, upsell_counts, recommend_counts)]
    # Answers are counted per question, not per respondent, so the smallest n is the number
    # of complete sets of three answers we can vouch for.
    n = min(m.n for m in means)
    values = [m.value for m in means if m.value is not None]
    if len(values) < 3:
        return Score(value=None, n=n, margin=None)
    margins = [m.margin for m in means if m.margin is not None]
    margin = None
    if len(margins) == 3:
        # Each margin is 1.96 * se, so the 1.96 factors out of the square root.
        margin = math.sqrt(sum(m * m for m in margins)) / 3
    return Score(value=sum(values) / 3, n=n, margin=margin)


def nps_band(value: float | None) -> str | None:
    if value is None:
        return None
    # DESIGN says "above" 0, 50 and 75, so each boundary belongs to the lower band;
    # exactly 0 is not negative, so it is "good" rather than "needs_work".
    if value < 0:
        return "needs_work"
    if value <= 50:
        return "good"
    if value <= 75:
        return "excellent"
    return "world_class"


def ces_band(value: float | None) -> str | None:
    if value is None:
        return None
    # DESIGN: a CES mean above 5 (strictly) is good.
    return "good" if value > 5 else "needs_work"


def response_rate(answered: int, sent: int) -> float | None:
    """Answered invitations as a percentage of those sent; None when none were sent."""
    return 100 * answered / sent if sent else None
