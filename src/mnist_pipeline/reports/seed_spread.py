"""Runs that differ only in their random seed, as one row: how many, which seeds, and each metric's
mean and standard deviation. One seed's figure is weak evidence; the spread says how much a figure
moves when nothing but the seed changes. Works on the DataFrame `mlflow.search_runs` returns."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .run_table import PER_CLASS, lower_is_better, varying_params

SEED = "params.seed"


def spread(values) -> tuple[int, float, float]:
    """(n, mean, sample standard deviation) of the values that are not NaN; std is NaN for n < 2."""
    series = pd.Series(values, dtype=float).dropna()
    return len(series), float(series.mean()), float(series.std(ddof=1)) if len(series) > 1 else math.nan


def mean_std(n: int, mean: float, std: float, digits: int = 4) -> str:
    """"0.9870 ± 0.0012" (n >= 2), or the single figure (n = 1)."""
    return f"{mean:.{digits}f}" if n < 2 else f"{mean:.{digits}f} ± {std:.{digits}f}"


def over_seeds(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per group of runs whose params are equal except `seed`, best mean first: the params
    that vary between groups, n (runs with `metric`), the seeds, then `metric` and every other
    metric as mean and <name>_std. Per-class test figures are left out, as in the run table."""
    keys = [c for c in varying_params(runs) if c != SEED]
    metrics = [f"metrics.{metric}", *sorted(c for c in runs.columns if c.startswith("metrics.")
                                            and c != f"metrics.{metric}" and not PER_CLASS.match(c))]
    rows = []
    for key, group in (runs.groupby(keys, dropna=False, sort=False) if keys else [((), runs)]):
        key = key if isinstance(key, tuple) else (key,)
        row = {column.removeprefix("params."): value for column, value in zip(keys, key)}
        row["n"] = int(group[metrics[0]].notna().sum())
        row["seeds"] = ",".join(sorted(group[SEED].astype(str), key=_numeric_first)) if SEED in group else ""
        row["runs"] = ",".join(group.run_id.str[:8])
        for column in metrics:
            name = column.removeprefix("metrics.")
            _, row[name], row[f"{name}_std"] = spread(group[column])
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(metric, ascending=lower_is_better(metric), na_position="last",
                             kind="stable").reset_index(drop=True)


def write(groups: pd.DataFrame, folder: Path, title: str) -> list[Path]:
    """over_seeds.csv and over_seeds.md in `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = folder / "over_seeds.csv", folder / "over_seeds.md"
    groups.to_csv(csv_path, index=False)
    md_path.write_text(f"# {title}, grouped over seeds (mean and std)\n\n"
                       f"{groups.to_markdown(index=False, floatfmt='.4f')}\n")
    return [csv_path, md_path]


def _numeric_first(seed: str):
    return (0, int(seed), "") if seed.lstrip("-").isdigit() else (1, 0, seed)
