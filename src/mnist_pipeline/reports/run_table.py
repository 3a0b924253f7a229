"""Tables and plots that compare runs, from the DataFrame `mlflow.search_runs` returns
(columns run_id, status, params.*, metrics.*, tags.*). No MLflow calls here: see tracking.queries."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..core.errors import PipelineError  # noqa: E402
from .plots import integer_x_axis  # noqa: E402

RUN_NAME = "tags.mlflow.runName"
# Per-class test metrics (test_precision_3, ...) would swamp the table; per_class.json keeps them.
PER_CLASS = re.compile(r"^metrics\.test_(precision|recall|f1)_")
FILES = ("comparison.csv", "comparison.md", "val_acc.png")


def _applies(values: pd.Series) -> pd.Series:
    """Whether a param applies to each run: logged, and not None (an MLP's model.dropout, say)."""
    return values.notna() & ~values.astype(str).isin(["None", "null", ""])


def varying_params(runs: pd.DataFrame) -> list[str]:
    """The params columns whose value differs between runs (what a sweep changed), sorted; a param
    that applies to none of the runs is left out, and one that applies to some counts as varying."""
    columns = {c for c in runs.columns if c.startswith("params.")}
    # Lightning logs the module's hyperparameters again as model/dropout; keep model.dropout.
    columns = {c for c in columns if c.replace("/", ".") == c or c.replace("/", ".") not in columns}
    varying = []
    for column in columns:
        applies = _applies(runs[column])
        if applies.any() and runs[column].where(applies, "n/a").astype(str).nunique() > 1:
            varying.append(column)
    return sorted(varying)


def lower_is_better(metric: str) -> bool:
    return "loss" in metric


def table(runs: pd.DataFrame, metric: str, params: list[str] | None = None) -> pd.DataFrame:
    """One row per run, best first by `metric` (lowest first for losses): run id and name, status,
    the params that vary (or `params`), then the metrics, `metric` first. Column names lose their
    params./metrics. prefix."""
    column = f"metrics.{metric}"
    if column not in runs.columns:
        known = sorted(c.removeprefix("metrics.") for c in runs.columns if c.startswith("metrics."))
        raise PipelineError(f"metric {metric!r} was not logged by any of these runs; they have: {', '.join(known)}")
    param_columns = [f"params.{p}" for p in params] if params else varying_params(runs)
    missing = [c for c in param_columns if c not in runs.columns]
    if missing:
        raise PipelineError(f"no run has param(s) {', '.join(c.removeprefix('params.') for c in missing)}")
    metrics = sorted(c for c in runs.columns if c.startswith("metrics.") and not PER_CLASS.match(c) and c != column)
    names = runs[RUN_NAME] if RUN_NAME in runs.columns else pd.Series("", index=runs.index)
    result = pd.concat([runs[["run_id"]], names.rename("run_name"), runs[["status"]],
                        runs[param_columns], runs[[column, *metrics]]], axis=1)
    result = result.sort_values(column, ascending=lower_is_better(metric), na_position="last", kind="stable")
    result.columns = [c.split(".", 1)[1] if c.startswith(("params.", "metrics.")) else c for c in result.columns]
    result = _with_interval(result.reset_index(drop=True))
    result.attrs["params"] = [c.removeprefix("params.") for c in param_columns]  # for the plot's legend
    return result


def _with_interval(rows: pd.DataFrame) -> pd.DataFrame:
    """test_acc's Wilson 95% interval (logged by evaluate as test_acc_ci_low/high) as one column
    `test_acc_95ci` beside test_acc: "[0.9862, 0.9904]", blank for runs evaluated before it was logged."""
    if not {"test_acc", "test_acc_ci_low", "test_acc_ci_high"} <= set(rows.columns):
        return rows
    interval = [f"[{low:.4f}, {high:.4f}]" if pd.notna(low) and pd.notna(high) else ""
                for low, high in zip(rows.test_acc_ci_low, rows.test_acc_ci_high)]
    rows = rows.drop(columns=["test_acc_ci_low", "test_acc_ci_high"])
    rows.insert(rows.columns.get_loc("test_acc") + 1, "test_acc_95ci", interval)
    return rows


def legend_label(row: pd.Series, params: list[str]) -> str:
    """A run as the compare plot's legend names it: its name and the values of the params that vary
    (`job-3: lr=0.001, dropout=0.2`), the short id when nothing varies."""
    shown = [f"{name.rsplit('.', 1)[-1]}={row[name]}" for name in params if _applies(pd.Series([row[name]])).all()]
    return f"{row['run_name']}: {', '.join(shown)}" if shown else f"{row['run_name']} ({row['run_id'][:8]})"


def val_acc_png(points: pd.DataFrame, unit: str, labels: dict[str, str], path: Path, title: str) -> None:
    """Validation accuracy against `unit` (step or epoch), one line per run of `labels` (run id ->
    legend, in order); points as tracking.queries.metric_curves gives them."""
    fig, ax = plt.subplots(figsize=(9, 5))
    val_acc = points[points.metric == "val_acc"]
    for run_id, label in labels.items():
        curve = val_acc[val_acc.run_id == run_id]
        if not curve.empty:
            ax.plot(curve[unit], curve.value, marker="o", label=label)
    ax.set_xlabel(unit)
    integer_x_axis(ax)
    ax.set_ylabel("val_acc")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the plot, never over a line
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(rows: pd.DataFrame, curves: tuple[str, pd.DataFrame], folder: Path, title: str) -> list[Path]:
    """comparison.csv, comparison.md and val_acc.png in `folder`; returns their paths. curves: the
    (unit, points) pair tracking.queries.metric_curves returns."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path, png_path = (folder / name for name in FILES)
    rows.to_csv(csv_path, index=False)
    md_path.write_text(f"# {title}\n\n{rows.to_markdown(index=False, floatfmt='.4f')}\n")
    params = rows.attrs.get("params", [])
    labels = {row["run_id"]: legend_label(row, params) for _, row in rows.iterrows()}
    unit, points = curves
    val_acc_png(points, unit, labels, png_path, title)
    return [csv_path, md_path, png_path]
