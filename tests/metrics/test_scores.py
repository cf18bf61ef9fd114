"""Which score heads each kind of survey, and which answers count as unhappy."""

import pytest

from metrics.scores import default_threshold, headline, tone


def test_headline_per_kind():
    assert headline("nps", {"nps": {10: 3, 0: 1}}).score.value == 50.0
    assert headline("nps", {"nps": {10: 3, 0: 1}}).band == "good"
    assert headline("csat", {"csat": {5: 1, 4: 1, 1: 2}}).score.value == 50.0
    assert headline("csat", {"csat": {1: 3, 0: 1}}, yes_no=True).score.value == 75.0
    assert headline("ces", {"ces": {7: 1, 5: 1}}).score.value == 6.0
    assert headline("ces", {"ces": {7: 1, 5: 1}}).band == "good"
    loyalty = headline("loyalty", {"purchase": {9: 1}, "upsell": {6: 1}, "recommend": {3: 1}})
    assert loyalty.score.value == 6.0 and loyalty.unit == "mean10" and loyalty.groups is None


def test_headline_without_answers_is_empty_not_zero():
    for kind in ("nps", "csat", "ces", "loyalty"):
        assert headline(kind, {}).score.value is None


@pytest.mark.parametrize(
    ("kind", "yes_no", "unhappy", "happy"),
    [
        ("nps", False, [0, 6], [9, 10]),
        ("csat", False, [1, 2], [4, 5]),
        ("csat", True, [0], [1]),
        ("ces", False, [1, 3], [5, 7]),
        ("loyalty", False, [1, 6], [9, 10]),
    ],
)
def test_unhappy_and_happy_answers(kind, yes_no, unhappy, happy):
    assert all(v <= default_threshold(kind, yes_no) for v in unhappy)
    assert all(tone(kind, v, yes_no) == "bad" for v in unhappy)
    assert all(tone(kind, v, yes_no) == "good" for v in happy)
    assert not any(v <= default_threshold(kind, yes_no) for v in happy)


def test_in_between_answers_are_neutral():
    assert tone("nps", 7) == tone("nps", 8) == "neutral"
    assert tone("csat", 3) == tone("ces", 4) == "neutral"
