"""Calibration of a classifier's confidence: expected calibration error (ECE) and the bins of a
reliability diagram, in NumPy (torchmetrics' CalibrationError would import torchvision into evaluate;
tests check the two agree)."""

from __future__ import annotations

import numpy as np
import pandas as pd

N_BINS = 15  # torchmetrics' default


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, np.float64) - np.max(logits, axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def reliability_bins(logits: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> pd.DataFrame:
    """One row per equal-width confidence bin (lo, hi] (a confidence of 0 counts in the first):
    how many predictions, their mean confidence (top-class probability) and their accuracy."""
    probs = _softmax(logits)
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == np.asarray(labels)
    index = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty bins: NaN, drawn as gaps
        mean_conf = np.bincount(index, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(index, weights=correct, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "count": count, "confidence": mean_conf,
                         "accuracy": accuracy})


def expected_calibration_error(logits: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    """Sum over bins of (share of predictions) x |accuracy - mean confidence|: 0 when a model that says
    90% is right 90% of the time."""
    bins = reliability_bins(logits, labels, n_bins)
    filled = bins[bins["count"] > 0]
    weight = filled["count"] / bins["count"].sum()
    return float((weight * (filled["accuracy"] - filled["confidence"]).abs()).sum())
