"""Threshold rules pick what they promise, checked by brute force over every cut."""

from __future__ import annotations

import numpy as np
import pytest

from cxrkeras.thresholds import choose_threshold, equal_error_rate


def _scores(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(rng.normal(size=n) + 1.2 * y, 2)
    return y, s


def _rates(y, s, t):
    pred = s >= t
    tpr = np.mean(pred[y == 1])
    fpr = np.mean(pred[y == 0])
    return tpr, fpr


def test_youden_maximises_j_over_all_cuts():
    y, s = _scores()
    t = choose_threshold(y, s, method="youden")
    best = max(np.subtract(*_rates(y, s, c)) for c in np.unique(s))
    tpr, fpr = _rates(y, s, t)
    assert tpr - fpr == pytest.approx(best)
    assert t in s  # a threshold is one of the observed scores


@pytest.mark.parametrize("target", [0.8, 0.95, 1.0])
def test_sensitivity_reaches_target_with_lowest_fpr(target):
    y, s = _scores(seed=1)
    t = choose_threshold(y, s, method="sensitivity", target=target)
    tpr, fpr = _rates(y, s, t)
    assert tpr >= target
    reaching = [_rates(y, s, c)[1] for c in np.unique(s) if _rates(y, s, c)[0] >= target]
    assert fpr == pytest.approx(min(reaching))
    # a higher cut would miss the target
    higher = s[s > t]
    if higher.size:
        assert _rates(y, s, higher.min())[0] < target


def test_eer_minimises_gap_between_error_rates():
    y, s = _scores(seed=2)
    t = choose_threshold(y, s, method="eer")
    gaps = [abs(_rates(y, s, c)[1] - (1 - _rates(y, s, c)[0])) for c in np.unique(s)]
    tpr, fpr = _rates(y, s, t)
    assert abs(fpr - (1 - tpr)) == pytest.approx(min(gaps))
    eer, t2 = equal_error_rate(y, s)
    assert t2 == t and eer == pytest.approx((fpr + 1 - tpr) / 2)


def test_planted_separable_scores():
    y = np.array([0] * 5 + [1] * 5)
    s = np.array([0.1, 0.15, 0.2, 0.25, 0.3, 0.6, 0.7, 0.8, 0.9, 0.95])
    for method in ("youden", "eer"):
        assert choose_threshold(y, s, method=method) == 0.6
    assert choose_threshold(y, s, method="sensitivity", target=1.0) == 0.6
    assert equal_error_rate(y, s) == (0.0, 0.6)


def test_fixed_and_probability_formats():
    y, s = _scores(50)
    assert choose_threshold(y, s, method="fixed") == 0.5
    assert choose_threshold(y, s, method="fixed", target=0.3) == 0.3
    p = 1 / (1 + np.exp(-s))
    two = np.stack([1 - p, p], axis=1)
    assert choose_threshold(np.eye(2)[y], two) == pytest.approx(choose_threshold(y, p))


def test_errors():
    y, s = _scores(30)
    with pytest.raises(ValueError, match="method='best'"):
        choose_threshold(y, s, method="best")
    with pytest.raises(ValueError, match=r"target=1.5"):
        choose_threshold(y, s, method="sensitivity", target=1.5)
    with pytest.raises(ValueError, match="both classes"):
        choose_threshold(np.ones(5), np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="binary scores"):
        choose_threshold([0, 1, 2], np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        choose_threshold([0, 1], [0.2, np.nan])
