"""Expected calibration error and reliability bins, by hand and against torchmetrics."""

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import multiclass_calibration_error

from mnist_pipeline.reports.calibration import expected_calibration_error, reliability_bins


def logits_for(top_probability: float, top: int, n_classes: int = 10) -> np.ndarray:
    """Logits whose softmax gives class `top` this probability and the others equal shares."""
    rest = (1 - top_probability) / (n_classes - 1)
    probs = np.full(n_classes, rest)
    probs[top] = top_probability
    return np.log(probs)


def test_ece_of_a_hand_computed_case():
    # Four predictions at 0.85 confidence, three right; two at 0.55, one right; with 10 bins:
    # bin (0.8, 0.9]: |0.75 - 0.85| = 0.1, weight 4/6; bin (0.5, 0.6]: |0.5 - 0.55| = 0.05, weight 2/6.
    logits = np.stack([logits_for(0.85, 0)] * 4 + [logits_for(0.55, 1)] * 2)
    labels = np.array([0, 0, 0, 5, 1, 7])
    assert expected_calibration_error(logits, labels, n_bins=10) == pytest.approx(4 / 6 * 0.1 + 2 / 6 * 0.05)
    bins = reliability_bins(logits, labels, n_bins=10)
    assert bins["count"].tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 4, 0]
    assert bins.loc[8, "accuracy"] == pytest.approx(0.75) and bins.loc[8, "confidence"] == pytest.approx(0.85)
    assert np.isnan(bins.loc[0, "accuracy"])  # an empty bin is a gap, not 0


def test_a_perfectly_calibrated_model_scores_zero():
    logits = np.stack([logits_for(0.5, 2)] * 4)
    assert expected_calibration_error(logits, np.array([2, 2, 3, 4])) == pytest.approx(0.0, abs=1e-12)


def test_ece_agrees_with_torchmetrics():
    generator = np.random.default_rng(0)
    logits = generator.normal(scale=3.0, size=(2000, 10))
    labels = np.where(generator.random(2000) < 0.7, logits.argmax(axis=1), generator.integers(0, 10, 2000))
    expected = multiclass_calibration_error(torch.from_numpy(logits).softmax(dim=1), torch.from_numpy(labels),
                                            num_classes=10, n_bins=15, norm="l1").item()
    assert expected_calibration_error(logits, labels) == pytest.approx(expected, abs=1e-5)
    assert expected > 0.01  # a case where calibration is off, so agreeing means something
