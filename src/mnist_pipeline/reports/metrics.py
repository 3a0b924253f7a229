"""Classification metrics of a test set, and the CSVs DVC plots read."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> dict:
    """Test loss, accuracy, per-class precision/recall/F1 and the confusion matrix (rows: actual)."""
    n = len(classes)
    preds = logits.argmax(dim=1)
    precision = multiclass_precision(preds, labels, n, average=None)
    recall = multiclass_recall(preds, labels, n, average=None)
    f1 = multiclass_f1_score(preds, labels, n, average=None)
    return {
        "test_loss": F.cross_entropy(logits, labels).item(),
        "test_acc": multiclass_accuracy(preds, labels, n, average="micro").item(),
        "per_class": {name: {"precision": precision[i].item(), "recall": recall[i].item(), "f1": f1[i].item()}
                      for i, name in enumerate(classes)},
        "confusion_matrix": multiclass_confusion_matrix(preds, labels, n),
    }


def write_confusion_csv(labels: torch.Tensor, preds: torch.Tensor, classes: list[str], path: Path) -> None:
    """One row per test image (actual, predicted), the shape DVC's confusion template reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["actual", "predicted"])
        writer.writerows((classes[a], classes[p]) for a, p in zip(labels.tolist(), preds.tolist()))


def write_history_csv(points: pd.DataFrame, unit: str, path: Path) -> None:
    """Learning curves for DVC, from tracking.queries.metric_curves: one row per step or epoch (`unit`)
    at which any curve has a point, blank where a curve has none. Both the step and the epoch column
    are written, so DVC's plot (x: step in dvc.yaml) reads step- and epoch-based recipes alike."""
    other = "epoch" if unit == "step" else "step"
    table = points.pivot_table(index=unit, columns="metric", values="value", aggfunc="last")
    table.insert(0, other, points.groupby(unit)[other].max())
    table.to_csv(path)
