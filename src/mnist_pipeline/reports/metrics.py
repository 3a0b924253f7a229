"""Classification metrics of a test set, and the CSVs DVC plots read."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F


def confusion_matrix(labels: torch.Tensor, preds: torch.Tensor, n: int) -> torch.Tensor:
    """Counts [n, n], rows the actual class, columns the predicted one."""
    return torch.bincount(labels * n + preds, minlength=n * n).view(n, n)


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> dict:
    """Test loss, accuracy, per-class precision/recall/F1 and the confusion matrix (rows: actual).

    From the confusion matrix, with torchmetrics' conventions (a class never predicted or never
    present scores 0; tests/reports check against it): importing torchmetrics costs the evaluate
    stage seconds (it imports torchvision)."""
    n = len(classes)
    preds = logits.argmax(dim=1)
    matrix = confusion_matrix(labels, preds, n)
    hits = matrix.diagonal().double()
    precision = torch.nan_to_num(hits / matrix.sum(dim=0))
    recall = torch.nan_to_num(hits / matrix.sum(dim=1))
    f1 = torch.nan_to_num(2 * precision * recall / (precision + recall))
    return {
        "test_loss": F.cross_entropy(logits, labels).item(),
        "test_acc": (hits.sum() / len(labels)).item(),
        "per_class": {name: {"precision": precision[i].item(), "recall": recall[i].item(), "f1": f1[i].item()}
                      for i, name in enumerate(classes)},
        "confusion_matrix": matrix,
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


def per_class_table(per_class: dict[str, dict[str, float]]) -> pd.DataFrame:
    """classification_metrics' per-class figures as one table: a row per class."""
    return pd.DataFrame([{"class": name, **values} for name, values in per_class.items()])
