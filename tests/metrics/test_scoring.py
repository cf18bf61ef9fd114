import dataclasses
import math
import statistics
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.scoring import (
    SMALL_SAMPLE,
    Groups,
    Score,
    ces_agree,
    ces_band,
    ces_groups,
    ces_mean,
    ces_net,
    csat,
    csat_groups,
    is_small_sample,
    loyalty_ratio,
    mean,
    nps,
    nps_band,
    nps_groups,
)

EMPTY = Score(value=None, n=0, margin=None)

# n = 15: promoters 5 + 3 = 8, passives 2, detractors 4 + 1 = 5.
MIXED_NPS = {10: 5, 9: 3, 8: 2, 6: 4, 0: 1}
# n = 10: satisfied 3 + 3 = 6, neutral 2, unsatisfied 1 + 1 = 2.
MIXED_CSAT = {5: 3, 4: 3, 3: 2, 2: 1, 1: 1}
# n = 8: agree 2 + 1 = 3, neutral 2, disagree 1 + 2 = 3.
MIXED_CES = {7: 2, 5: 1, 4: 2, 2: 1, 1: 2}


# --- Hand-computed examples ---


def test_nps_empty() -> None:
    assert nps({}) == EMPTY
    # Values with count 0 are no answers.
    assert nps({9: 0, 3: 0}) == EMPTY


def test_nps_single_answer_has_no_margin() -> None:
    assert nps({9: 1}) == Score(value=100.0, n=1, margin=None)


def test_nps_all_promoters() -> None:
    # p = 1, d = 0: p + d - (p - d)^2 = 1 - 1 = 0, so the margin is exactly 0.
    assert nps({10: 3, 9: 2}) == Score(value=100.0, n=5, margin=0.0)


def test_nps_all_detractors() -> None:
    assert nps({0: 2, 6: 1}) == Score(value=-100.0, n=3, margin=0.0)


def test_nps_mixed() -> None:
    score = nps(MIXED_NPS)
    # 100 * (8 - 5) / 15 = 20
    assert score.value == pytest.approx(20.0)
    assert score.n == 15
    # p = 8/15, d = 5/15: p + d = 13/15 = 0.86667, (p - d)^2 = 0.2^2 = 0.04
    # 100 * 1.96 * sqrt(0.82667 / 15) = 196 * sqrt(0.055111) = 196 * 0.23476 = 46.01
    assert score.margin == pytest.approx(46.01, abs=0.005)


def test_nps_passives_only() -> None:
    # Nobody promotes, nobody detracts: 0 is a real score, not "no answers".
    assert nps({7: 2, 8: 2}) == Score(value=0.0, n=4, margin=0.0)


def test_csat() -> None:
    score = csat(MIXED_CSAT)
    # 100 * 6 / 10 = 60
    assert score.value == pytest.approx(60.0)
    assert score.n == 10
    # 100 * 1.96 * sqrt(0.6 * 0.4 / 10) = 196 * sqrt(0.024) = 196 * 0.15492 = 30.36
    assert score.margin == pytest.approx(30.36, abs=0.005)


def test_csat_yes_no() -> None:
    score = csat({1: 8, 0: 2}, yes_no=True)
    # 100 * 8 / 10 = 80
    assert score.value == pytest.approx(80.0)
    assert score.n == 10
    # 196 * sqrt(0.8 * 0.2 / 10) = 196 * sqrt(0.016) = 196 * 0.12649 = 24.79
    assert score.margin == pytest.approx(24.79, abs=0.005)


def test_csat_empty_and_single() -> None:
    assert csat({}) == EMPTY
    assert csat({}, yes_no=True) == EMPTY
    assert csat({2: 1}) == Score(value=0.0, n=1, margin=None)


def test_mean() -> None:
    score = mean({2: 1, 4: 1})
    # mean 3; s^2 = (1 + 1) / (2 - 1) = 2; 1.96 * sqrt(2) / sqrt(2) = 1.96
    assert score.value == pytest.approx(3.0)
    assert score.n == 2
    assert score.margin == pytest.approx(1.96)
    assert mean({}) == EMPTY


def test_ces_mean() -> None:
    score = ces_mean({7: 2, 6: 1, 5: 1, 3: 1})
    # (14 + 6 + 5 + 3) / 5 = 28 / 5 = 5.6
    assert score.value == pytest.approx(5.6)
    assert score.n == 5
    # squared deviations: 2 * 1.4^2 + 0.4^2 + 0.6^2 + 2.6^2 = 3.92 + 0.16 + 0.36 + 6.76 = 11.2
    # s^2 = 11.2 / 4 = 2.8; 1.96 * sqrt(2.8 / 5) = 1.96 * 0.74833 = 1.47
    assert score.margin == pytest.approx(1.47, abs=0.005)


def test_ces_mean_empty_and_single() -> None:
    assert ces_mean({}) == EMPTY
    assert ces_mean({4: 1}) == Score(value=4.0, n=1, margin=None)


def test_ces_net() -> None:
    score = ces_net(MIXED_CES)
    # 100 * (3 - 3) / 8 = 0
    assert score.value == pytest.approx(0.0)
    assert score.n == 8
    # p = d = 3/8: p + d - 0 = 0.75; 196 * sqrt(0.75 / 8) = 196 * 0.30619 = 60.01
    assert score.margin == pytest.approx(60.01, abs=0.005)
    assert ces_net({}) == EMPTY


def test_ces_agree() -> None:
    score = ces_agree(MIXED_CES)
    # 100 * 3 / 8 = 37.5
    assert score.value == pytest.approx(37.5)
    assert score.n == 8
    # 196 * sqrt(0.375 * 0.625 / 8) = 196 * sqrt(0.029297) = 196 * 0.17116 = 33.55
    assert score.margin == pytest.approx(33.55, abs=0.005)
    assert ces_agree({}) == EMPTY


def test_loyalty_ratio() -> None:
    # purchase: mean 9, s^2 = 4 * 1 / 3 = 4/3, se^2 = (4/3) / 4 = 1/3
    # upsell: mean 7, s^2 = (1 + 0 + 1) / 2 = 1, se^2 = 1/3
    # recommend: mean 9, s^2 = (1 + 1) / 1 = 2, se^2 = 2/2 = 1
    score = loyalty_ratio({8: 2, 10: 2}, {6: 1, 7: 1, 8: 1}, {8: 1, 10: 1})
    # (9 + 7 + 9) / 3 = 25 / 3 = 8.3333
    assert score.value == pytest.approx(8.3333, abs=0.00005)
    assert score.n == 2
    # 1.96 * sqrt(1/3 + 1/3 + 1) / 3 = 1.96 * 1.29099 / 3 = 0.84
    assert score.margin == pytest.approx(0.84, abs=0.005)


def test_loyalty_ratio_needs_all_three() -> None:
    assert loyalty_ratio({8: 2}, {}, {9: 3}) == EMPTY
    assert loyalty_ratio({}, {}, {}) == EMPTY


def test_loyalty_ratio_single_answer_has_no_margin() -> None:
    # (8 + 6 + 10) / 3 = 8
    assert loyalty_ratio({8: 2}, {6: 1}, {10: 3}) == Score(value=8.0, n=1, margin=None)


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (None, None),
        (-100, "needs_work"),
        (-0.1, "needs_work"),
        (0, "good"),
        (50, "good"),
        (50.1, "excellent"),
        (75, "excellent"),
        (75.1, "world_class"),
        (100, "world_class"),
    ],
)
def test_nps_band(value: float | None, band: str | None) -> None:
    assert nps_band(value) == band


@pytest.mark.parametrize(
    ("value", "band"),
    [(None, None), (1, "needs_work"), (5, "needs_work"), (5.01, "good"), (7, "good")],
)
def test_ces_band(value: float | None, band: str | None) -> None:
    assert ces_band(value) == band


def test_groups() -> None:
    assert nps_groups(MIXED_NPS) == Groups(good=8, neutral=2, bad=5)
    assert csat_groups(MIXED_CSAT) == Groups(good=6, neutral=2, bad=2)
    assert csat_groups({1: 8, 0: 2}, yes_no=True) == Groups(good=8, neutral=0, bad=2)
    assert ces_groups(MIXED_CES) == Groups(good=3, neutral=2, bad=3)
    assert nps_groups({}) == Groups(good=0, neutral=0, bad=0)


def test_small_sample() -> None:
    assert SMALL_SAMPLE == 30
    assert is_small_sample(29)
    assert not is_small_sample(30)


def test_results_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        nps({9: 1}).value = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        nps_groups({9: 1}).good = 0  # type: ignore[misc]


@pytest.mark.parametrize(
    "call",
    [
        lambda: nps({11: 1}),
        lambda: nps({-1: 1}),
        lambda: nps({9: -1}),
        lambda: nps_groups({11: 0}),
        lambda: csat({0: 1}),
        lambda: csat({6: 1}),
        lambda: csat({2: 1}, yes_no=True),
        lambda: csat_groups({3: 1}, yes_no=True),
        lambda: ces_mean({8: 1}),
        lambda: ces_net({0: 1}),
        lambda: ces_agree({4: -2}),
        lambda: ces_groups({8: 1}),
        lambda: mean({3: -1}),
        lambda: mean({0: 1}, range(1, 6)),
        lambda: loyalty_ratio({0: 1}, {5: 1}, {5: 1}),
        lambda: loyalty_ratio({5: 1}, {5: 1}, {11: 1}),
    ],
)
def test_invalid_input_raises(call) -> None:
    with pytest.raises(ValueError):
        call()


# --- Properties ---


def counts_on(low: int, high: int) -> st.SearchStrategy[dict[int, int]]:
    return st.dictionaries(st.integers(low, high), st.integers(0, 1000))


nps_counts = counts_on(0, 10)
csat_counts = counts_on(1, 5)
yes_no_counts = counts_on(0, 1)
ces_counts = counts_on(1, 7)
loyalty_counts = counts_on(1, 10)


def expand(counts: Mapping[int, int]) -> list[int]:
    return [value for value, count in counts.items() for _ in range(count)]


def share_reference(flags: list[int]) -> tuple[float, float | None]:
    """Percent and margin of a list of per-answer scores (+1, 0 or -1), from first principles."""
    n = len(flags)
    margin = 100 * 1.96 * statistics.pstdev(flags) / math.sqrt(n) if n >= 2 else None
    return 100 * statistics.mean(flags), margin


def mean_reference(answers: list[int]) -> tuple[float, float | None]:
    n = len(answers)
    margin = 1.96 * statistics.stdev(answers) / math.sqrt(n) if n >= 2 else None
    return statistics.mean(answers), margin


def assert_matches(score: Score, n: int, reference: tuple[float, float | None]) -> None:
    value, margin = reference
    assert score.n == n
    assert score.value == pytest.approx(value, rel=1e-9, abs=1e-9)
    if margin is None:
        assert score.margin is None
    else:
        assert score.margin == pytest.approx(margin, rel=1e-9, abs=1e-9)


@given(nps_counts)
def test_nps_range_and_emptiness(counts: dict[int, int]) -> None:
    score = nps(counts)
    assert (score.value is None) == (score.n == 0)
    assert score.value is None or -100 <= score.value <= 100


@given(csat_counts, yes_no_counts, ces_counts)
def test_percentages_range_and_emptiness(
    csat_c: dict[int, int], yes_no_c: dict[int, int], ces_c: dict[int, int]
) -> None:
    for score in (csat(csat_c), csat(yes_no_c, yes_no=True), ces_agree(ces_c)):
        assert (score.value is None) == (score.n == 0)
        assert score.value is None or 0 <= score.value <= 100
    score = ces_net(ces_c)
    assert (score.value is None) == (score.n == 0)
    assert score.value is None or -100 <= score.value <= 100


@given(ces_counts)
def test_ces_mean_range_and_emptiness(counts: dict[int, int]) -> None:
    score = ces_mean(counts)
    assert (score.value is None) == (score.n == 0)
    assert score.value is None or 1 <= score.value <= 7


@given(loyalty_counts, loyalty_counts, loyalty_counts)
def test_loyalty_ratio_range_and_emptiness(
    a: dict[int, int], b: dict[int, int], c: dict[int, int]
) -> None:
    score = loyalty_ratio(a, b, c)
    assert (score.value is None) == (score.n == 0)
    assert score.value is None or 1 <= score.value <= 10


@settings(deadline=None)
@given(nps_counts)
def test_nps_matches_expanded_answers(counts: dict[int, int]) -> None:
    answers = expand(counts)
    if not answers:
        assert nps(counts) == EMPTY
        return
    flags = [1 if a >= 9 else -1 if a <= 6 else 0 for a in answers]
    assert_matches(nps(counts), len(answers), share_reference(flags))


@settings(deadline=None)
@given(csat_counts, yes_no_counts)
def test_csat_matches_expanded_answers(csat_c: dict[int, int], yes_no_c: dict[int, int]) -> None:
    for counts, yes_no, satisfied in ((csat_c, False, {4, 5}), (yes_no_c, True, {1})):
        answers = expand(counts)
        score = csat(counts, yes_no=yes_no)
        if not answers:
            assert score == EMPTY
            continue
        flags = [1 if a in satisfied else 0 for a in answers]
        assert_matches(score, len(answers), share_reference(flags))


@settings(deadline=None)
@given(ces_counts)
def test_ces_matches_expanded_answers(counts: dict[int, int]) -> None:
    answers = expand(counts)
    if not answers:
        assert ces_mean(counts) == ces_net(counts) == ces_agree(counts) == EMPTY
        return
    n = len(answers)
    assert_matches(ces_mean(counts), n, mean_reference(answers))
    net_flags = [1 if a >= 5 else -1 if a <= 3 else 0 for a in answers]
    assert_matches(ces_net(counts), n, share_reference(net_flags))
    agree_flags = [1 if a >= 5 else 0 for a in answers]
    assert_matches(ces_agree(counts), n, share_reference(agree_flags))


@settings(deadline=None)
@given(loyalty_counts, loyalty_counts, loyalty_counts)
def test_loyalty_ratio_matches_expanded_answers(
    a: dict[int, int], b: dict[int, int], c: dict[int, int]
) -> None:
    questions = [expand(counts) for counts in (a, b, c)]
    score = loyalty_ratio(a, b, c)
    n = min(len(answers) for answers in questions)
    if n == 0:
        assert score == Score(value=None, n=0, margin=None)
        return
    value = statistics.mean(statistics.mean(answers) for answers in questions)
    margin = None
    if n >= 2:
        squared_errors = sum(statistics.variance(q) / len(q) for q in questions)
        margin = 1.96 * math.sqrt(squared_errors) / 3
    assert_matches(score, n, (value, margin))


def times_four(counts: Mapping[int, int]) -> dict[int, int]:
    return {value: 4 * count for value, count in counts.items()}


@given(nps_counts, csat_counts, yes_no_counts, ces_counts)
def test_proportion_margins_halve_with_four_times_the_answers(
    nps_c: dict[int, int], csat_c: dict[int, int], yes_no_c: dict[int, int], ces_c: dict[int, int]
) -> None:
    cases: list[tuple[Callable[[dict[int, int]], Score], dict[int, int]]] = [
        (nps, nps_c),
        (csat, csat_c),
        (lambda c: csat(c, yes_no=True), yes_no_c),
        (ces_net, ces_c),
        (ces_agree, ces_c),
    ]
    for score_of, counts in cases:
        before, after = score_of(counts), score_of(times_four(counts))
        # The shares are unchanged, so only the 1 / sqrt(n) factor moves.
        assert after.value == pytest.approx(before.value)
        if before.margin:
            assert after.margin == pytest.approx(before.margin / 2)


@given(ces_counts)
def test_mean_margin_shrinks_with_four_times_the_answers(counts: dict[int, int]) -> None:
    before, after = ces_mean(counts), ces_mean(times_four(counts))
    assert after.value == pytest.approx(before.value)
    if before.margin:
        # Not exactly half: the sample variance divides by n - 1, not n, so
        # after / before = sqrt((n - 1) / (4n - 1)), a little under one half.
        n = before.n
        assert after.margin is not None
        assert after.margin == pytest.approx(before.margin * math.sqrt((n - 1) / (4 * n - 1)))
        assert after.margin < before.margin / 2
