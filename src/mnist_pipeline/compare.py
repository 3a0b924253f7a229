"""Compare runs from MLflow: a table of the params they vary and their metrics, best first, and
their validation-accuracy curves.

    python -m mnist_pipeline.compare                        every run of the experiment (sweep parents left out)
    python -m mnist_pipeline.compare --sweep latest         the jobs of the latest sweep (or --sweep PARENT_RUN_ID)
    python -m mnist_pipeline.compare --runs ID ID ...       chosen runs
    python -m mnist_pipeline.compare --over-seeds ...       also: runs that differ only in seed as one row

Prints the table and writes comparison.csv, comparison.md and val_acc.png to --out; for a sweep,
also logs them to its parent run under comparison/. --over-seeds adds over_seeds.csv and
over_seeds.md: n, the seeds, and each metric's mean and standard deviation. The store and
experiment come from params.yaml (tracking.*) unless --tracking-uri / --experiment say otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from omegaconf import OmegaConf

from .core.cli import run_stage
from .core.config import load_params
from .tracking import BEST_METRIC


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--sweep", metavar="PARENT_RUN_ID", help="a sweep's parent run id, or 'latest'")
    which.add_argument("--runs", nargs="+", metavar="RUN_ID", help="run ids")
    parser.add_argument("--experiment", help="experiment name (default: tracking.experiment_name)")
    parser.add_argument("--metric", default=BEST_METRIC,
                        help="sort by this metric, highest first, or lowest first for a loss (default: %(default)s)")
    parser.add_argument("--params", nargs="+", help="param columns to show (default: those that differ between runs)")
    parser.add_argument("--over-seeds", action="store_true",
                        help="also group runs that differ only in seed into one row: n, mean and std")
    parser.add_argument("--out", type=Path, default=Path("reports/compare"),
                        help="output folder (default: %(default)s)")
    parser.add_argument("--tracking-uri",
                        help="MLflow store (default: MLFLOW_TRACKING_URI, else tracking.tracking_uri)")
    return parser.parse_args(argv)


def compare(args: argparse.Namespace):
    """Select, tabulate and plot the runs; returns the table."""
    from mlflow import MlflowClient  # MLflow and pandas: imported here, so that --help answers at once

    from .reports import run_table, seed_spread
    from .tracking import queries, store

    if args.tracking_uri and args.experiment:
        cfg = OmegaConf.create({"tracking": {"tracking_uri": args.tracking_uri, "experiment_name": args.experiment}})
    else:
        cfg = load_params()
        cfg.tracking.tracking_uri = args.tracking_uri or cfg.tracking.tracking_uri
        cfg.tracking.experiment_name = args.experiment or cfg.tracking.experiment_name
    store.connect(cfg)
    sweep = queries.latest_sweep(cfg.tracking.experiment_name) if args.sweep == "latest" else args.sweep
    runs = queries.select_runs(cfg.tracking.experiment_name, sweep=sweep, run_ids=args.runs)
    rows = run_table.table(runs, args.metric, args.params)
    title = f"Sweep {sweep[:8]}" if sweep else f"{len(rows)} runs of {cfg.tracking.experiment_name}"
    curves = queries.metric_curves(MlflowClient(), rows.run_id, ["val_acc"])
    files = run_table.write(rows, curves, args.out, title)
    print(rows.to_markdown(index=False, floatfmt=".4f"))
    if args.over_seeds:
        groups = seed_spread.over_seeds(runs, args.metric)
        files += seed_spread.write(groups, args.out, title)
        print(groups.to_markdown(index=False, floatfmt=".4f"))
    print("wrote " + ", ".join(str(path) for path in files))
    if sweep:
        queries.log_comparison(sweep, args.out)
        print(f"logged them to the sweep's parent run {sweep} under comparison/")
    return rows


def main(argv: list[str] | None = None) -> None:
    compare(parse_args(argv))


if __name__ == "__main__":
    run_stage(main)
