"""Accuracy of a model on the test digits under each of data/corruptions.py's fixed corruptions."""

from __future__ import annotations

import pandas as pd
import torch

from ..data.corruptions import CORRUPTIONS
from ..inference.logits import batched_logits
from .significance import wilson_interval


def robustness_table(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, normalize: bool,
                     clean_acc: float) -> pd.DataFrame:
    """One row per corruption (the clean test set first): accuracy, its Wilson 95% interval and the
    drop from clean accuracy."""
    rows = [("clean", clean_acc)]
    for name, corrupt in CORRUPTIONS.items():
        preds = batched_logits(model, corrupt(images), normalize).argmax(dim=1)
        rows.append((name, (preds == labels).double().mean().item()))
    table = pd.DataFrame(rows, columns=["corruption", "accuracy"])
    n = len(labels)
    bounds = [wilson_interval(round(acc * n), n) for acc in table["accuracy"]]
    table["ci_low"], table["ci_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
    table["drop"] = clean_acc - table["accuracy"]
    return table
