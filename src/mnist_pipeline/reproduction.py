"""The reproduction table: each seed tutorial's reported figure beside what this pipeline gets
with the seed's exact recipe, built from the MLflow runs (never typed by hand).

    python -m mnist_pipeline.reproduction [--output docs/reproduction.md]

Reproduce a row with `dvc exp run -S experiment=<recipe> -S seed=<n>` (the evaluate stage logs the
test accuracy). Each row is the newest finished run per seed of a recipe, dataset, input scaling
and hardware, shown as mean ± std over the seeds with a verdict against the seed's figure (the rule
is in reports/reproduction_table.py and on the page); a recipe with no full-MNIST run keeps its
row, marked as not yet run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .core.atomic import write_text
from .core.cli import run_stage
from .core.config import load_params
from .core.project import project_root


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the reproduction table from MLflow.")
    parser.add_argument("--output", type=Path, default=Path("docs/reproduction.md"))
    args = parser.parse_args()
    from .reports.reproduction_table import page, reported_figures  # pandas, MLflow: once --help has been answered
    from .tracking import store
    from .tracking.queries import runs_per_seed

    cfg = load_params()
    store.setup(cfg)
    figures = reported_figures(project_root() / "conf")
    text = page(figures, runs_per_seed(cfg.tracking.experiment_name), cfg.tracking.experiment_name)
    write_text(args.output, text)
    print(text)


if __name__ == "__main__":
    run_stage(main)
