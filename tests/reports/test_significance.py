"""Wilson intervals and McNemar's exact test, on constructed predictions with known answers."""

import math

import numpy as np
import pytest

from mnist_pipeline.reports.significance import mcnemar_exact, wilson_interval


def predictions(both: int, only_new: int, only_old: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image correctness of a challenger and a champion with these agreement counts."""
    new = [True] * both + [True] * only_new + [False] * only_old + [False] * neither
    old = [True] * both + [False] * only_new + [True] * only_old + [False] * neither
    return np.array(new), np.array(old)


def test_wilson_interval_matches_the_textbook_formula():
    correct, n, z = 9885, 10000, 1.959963984540054
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = wilson_interval(correct, n)
    assert low == pytest.approx(centre - half, abs=1e-9) and high == pytest.approx(centre + half, abs=1e-9)
    assert 0.0035 < high - low < 0.0050  # about +-0.2 points near 0.99 on 10,000 images
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(10, 10)[0] < 1  # never [1, 1]


def test_a_clearly_better_challenger_is_significant():
    new, old = predictions(both=9800, only_new=40, only_old=10, neither=150)
    gate = mcnemar_exact(new, old, level=0.05)
    assert (gate.b, gate.c) == (40, 10)
    # Exact two-sided binomial p of 10 or fewer of 50 fair coins landing one way, doubled.
    tail = sum(math.comb(50, k) for k in range(11)) / 2**50
    assert gate.p_value == pytest.approx(2 * tail, rel=1e-9)
    assert gate.significantly_better
    assert gate.challenger_acc == pytest.approx(0.9840) and gate.champion_acc == pytest.approx(0.9810)


def test_a_higher_accuracy_by_one_image_is_not_significant():
    new, old = predictions(both=9880, only_new=6, only_old=5, neither=109)  # 0.9886 vs 0.9885
    gate = mcnemar_exact(new, old, level=0.05)
    assert gate.challenger_acc > gate.champion_acc
    assert gate.p_value == pytest.approx(1.0) and not gate.significantly_better
    assert "b=6" in gate.reason() and "c=5" in gate.reason() and "not significantly better" in gate.reason()


def test_a_significantly_worse_challenger_is_not_better():
    new, old = predictions(both=900, only_new=0, only_old=30, neither=70)
    gate = mcnemar_exact(new, old, level=0.05)
    assert gate.p_value < 1e-6 and not gate.significantly_better


def test_identical_predictions_are_no_evidence():
    new, old = predictions(both=95, only_new=0, only_old=0, neither=5)
    gate = mcnemar_exact(new, old, level=0.05)
    assert (gate.b, gate.c, gate.p_value) == (0, 0, 1.0) and not gate.significantly_better


def test_the_level_decides_a_borderline_case():
    new, old = predictions(both=900, only_new=15, only_old=5, neither=80)  # p = 0.041
    assert mcnemar_exact(new, old, level=0.05).significantly_better
    assert not mcnemar_exact(new, old, level=0.01).significantly_better


def test_models_scored_on_different_images_are_refused():
    with pytest.raises(ValueError, match="same images"):
        mcnemar_exact(np.ones(10, bool), np.ones(9, bool), level=0.05)
