"""The reproduction table: each seed tutorial's reported figure beside what this pipeline gets
with the seed's exact recipe, built from the MLflow runs (never typed by hand).

    python -m mnist_pipeline.reproduction [--output docs/reproduction.md]

Reproduce a row with `dvc exp run -S experiment=<recipe> -S data=<dataset>` (the evaluate stage
logs the test accuracy). The newest finished run per recipe, dataset and input scaling is shown;
a recipe with no evaluated run keeps its row, marked as not yet run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .core.atomic import write_text
from .core.cli import run_stage
from .core.config import load_params
from .core.project import project_root
from .reports.reproduction_table import PAGE, reported_figures, table


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the reproduction table from MLflow.")
    parser.add_argument("--output", type=Path, default=Path("docs/reproduction.md"))
    args = parser.parse_args()
    from .tracking import store  # MLflow: imported once --help has been answered
    from .tracking.queries import latest_runs

    cfg = load_params()
    store.setup(cfg)
    figures = reported_figures(project_root() / "conf")
    text = table(figures, latest_runs(cfg.tracking.experiment_name))
    write_text(args.output, PAGE.format(experiment=cfg.tracking.experiment_name, table=text))
    print(text)


if __name__ == "__main__":
    run_stage(main)
