"""PNG plots of an evaluation: confusion matrix, learning curves, misclassified test images."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def confusion_matrix_png(matrix: torch.Tensor, classes: list[str], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(matrix.numpy(), cmap="Blues")
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for (row, col), count in zip(torch.cartesian_prod(torch.arange(len(classes)), torch.arange(len(classes))).tolist(),
                                 matrix.flatten().tolist()):
        ax.text(col, row, str(count), ha="center", va="center", fontsize=7,
                color="white" if count > matrix.max().item() / 2 else "black")
    fig.colorbar(image)
    ax.set_title("Confusion matrix (test set)")
    _save(fig, path)


def integer_x_axis(ax) -> None:
    """Whole steps or epochs on the x axis, also when the curves hold a single point."""
    low, high = ax.get_xlim()
    if high - low < 2:  # matplotlib pads one point by a fraction: no whole number to tick
        middle = (low + high) / 2
        ax.set_xlim(middle - 1, middle + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def learning_curves_png(points: pd.DataFrame, unit: str, path: Path) -> None:
    """Loss and accuracy curves against `unit` (step or epoch), from tracking.queries.metric_curves."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for name, curve in points.groupby("metric"):
        ax = loss_ax if name.endswith("loss") else acc_ax
        ax.plot(curve[unit], curve.value, marker="o", label=name)
    for ax, title in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        ax.set_xlabel(unit)
        ax.set_ylabel("cross-entropy loss" if title == "loss" else "accuracy")
        integer_x_axis(ax)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    _save(fig, path)


def misclassified_png(images: torch.Tensor, labels: torch.Tensor, predicted: torch.Tensor,
                      classes: list[str], path: Path, limit: int = 36) -> None:
    """A grid of the first `limit` misclassified images, each captioned with its true and predicted
    label, spelled out so that no one has to guess which is which. One image on one axes: a
    subplot per digit made this plot cost more than the other two together."""
    wrong = (labels != predicted).nonzero().flatten()[:limit]
    cols, side, gap = 6, images.shape[-1], images.shape[-1] // 2  # gap: room for the two caption lines
    rows = max(1, -(-len(wrong) // cols))
    height, width = side + 2 * gap, side + gap // 2
    grid = torch.zeros(rows * height, cols * width, dtype=images.dtype)
    fig, ax = plt.subplots(figsize=(cols * 1.9, rows * 2.3))
    for n, index in enumerate(wrong.tolist()):
        top, left = (n // cols) * height, (n % cols) * width
        grid[top:top + side, left:left + side] = images[index]
        caption = f"true {classes[labels[index]]}\npredicted {classes[predicted[index]]}"
        ax.text(left + side / 2, top + side + 1, caption, ha="center", va="top", fontsize=10, linespacing=1.3)
    ax.imshow(grid.numpy(), cmap="gray_r")
    ax.axis("off")
    fig.suptitle(f"Misclassified test images (first {len(wrong)} of {int((labels != predicted).sum())})",
                 fontsize=12)
    _save(fig, path)


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def reliability_png(bins: pd.DataFrame, ece: float, path: Path) -> None:
    """Reliability diagram from reports.calibration.reliability_bins: accuracy against confidence per
    bin (on the diagonal when calibrated), with how many predictions each bin holds beneath."""
    fig, (ax, count_ax) = plt.subplots(2, 1, figsize=(5.5, 6.5), sharex=True, height_ratios=[3, 1])
    width = (bins["high"] - bins["low"]).to_numpy()
    filled = bins["count"] > 0
    ax.bar(bins["low"][filled], bins["accuracy"][filled], width=width[filled], align="edge", edgecolor="black",
           color="tab:blue", alpha=0.8, label="accuracy in bin")
    ax.plot(bins["confidence"][filled], bins["accuracy"][filled], "o", color="tab:orange", markersize=4,
            label="(mean confidence, accuracy)")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfectly calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability diagram (test set), ECE = {ece:.4f}")
    ax.legend(loc="upper left", fontsize=8)
    count_ax.bar(bins["low"], bins["count"], width=width, align="edge", edgecolor="black", color="tab:gray")
    count_ax.set_yscale("symlog")
    count_ax.set_xlabel("confidence (top-class probability)")
    count_ax.set_ylabel("predictions")
    _save(fig, path)


def robustness_png(table: pd.DataFrame, path: Path) -> None:
    """Accuracy with its 95% interval under each corruption (reports.robustness.robustness_table)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    y = range(len(table))
    errors = [table["accuracy"] - table["ci_low"], table["ci_high"] - table["accuracy"]]
    colors = ["tab:green" if name == "clean" else "tab:blue" for name in table["corruption"]]
    ax.barh(y, table["accuracy"], xerr=errors, color=colors, capsize=3)
    for row, acc, high in zip(y, table["accuracy"], table["ci_high"]):
        ax.text(min(high + 0.01, 0.93), row, f"{acc:.3f}", va="center", fontsize=9)  # clear of the error bar
    ax.set_yticks(y, table["corruption"])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("test accuracy (95% Wilson interval)")
    ax.set_title("Accuracy under corruptions of the test digits")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)
