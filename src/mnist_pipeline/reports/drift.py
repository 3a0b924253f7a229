"""Drift: do the served requests of a period still look like the training data? SciPy's two-sample
Kolmogorov-Smirnov test per input statistic and for the model's confidence, and a chi-square test of
the predicted-class counts against the classes the model predicts on the training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import chisquare, ks_2samp

from ..inference.request_log import STATS

ALPHA = 0.01  # a feature drifts when its test's p-value falls below this


def drift_table(reference: dict[str, np.ndarray], current: dict[str, np.ndarray], classes: list[str]) -> list[dict]:
    """One row per feature: the test, its statistic, p-value and a plain verdict. Both sides hold the
    input statistics (request_log.STATS), "confidence" and "label" (predicted class names)."""
    rows = []
    for name in (*STATS, "confidence"):
        result = ks_2samp(reference[name], current[name])
        rows.append({"feature": name, "test": "Kolmogorov-Smirnov", "statistic": float(result.statistic),
                     "p_value": float(result.pvalue)})
    counts = np.array([(np.asarray(current["label"]) == c).sum() for c in classes], dtype=float)
    expected_share = np.array([(np.asarray(reference["label"]) == c).sum() for c in classes], dtype=float) + 0.5
    expected = expected_share / expected_share.sum() * counts.sum()  # +0.5: no class is ever impossible
    result = chisquare(counts, expected)
    rows.append({"feature": "predicted_class", "test": "chi-square", "statistic": float(result.statistic),
                 "p_value": float(result.pvalue)})
    for row in rows:
        row["verdict"] = "DRIFT" if row["p_value"] < ALPHA else "no drift"
    return rows


def plot_drift(reference: dict, current: dict, rows: list[dict], classes: list[str], path: Path) -> Path:
    """One panel per feature: training data against the period's requests, the verdict in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    verdicts = {row["feature"]: row for row in rows}
    names = [*STATS, "confidence"]
    figure, axes = plt.subplots(2, 4, figsize=(16, 7))
    for axis, name in zip(axes.flat, names):
        low = min(reference[name].min(), current[name].min())
        high = max(reference[name].max(), current[name].max())
        bins = np.linspace(low, high + 1e-9, 30)
        axis.hist(reference[name], bins=bins, density=True, alpha=0.5, label="training data")
        axis.hist(current[name], bins=bins, density=True, alpha=0.5, label="requests")
        row = verdicts[name]
        axis.set_title(f"{name}: {row['verdict']} (p={row['p_value']:.2g})", color="red" if row["verdict"] == "DRIFT"
                       else "black", fontsize=10)
    axis = axes.flat[len(names)]
    x = np.arange(len(classes))
    for offset, (side, label) in zip((-0.2, 0.2), ((reference, "training data"), (current, "requests"))):
        share = np.array([(np.asarray(side["label"]) == c).mean() for c in classes])
        axis.bar(x + offset, share, width=0.4, label=label)
    axis.set_xticks(x, classes)
    row = verdicts["predicted_class"]
    axis.set_title(f"predicted class: {row['verdict']} (p={row['p_value']:.2g})",
                   color="red" if row["verdict"] == "DRIFT" else "black", fontsize=10)
    axes.flat[0].legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
