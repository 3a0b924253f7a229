"""Finding runs in the store: a sweep's children, chosen runs, a whole experiment, and their metric histories."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ..core.errors import PipelineError
from .runs import PARENT_RUN_TAG

SWEEP_ROLE_TAG = "sweep_role"  # "parent" on a sweep's parent run
CURVES = ("train_loss", "val_loss", "train_acc", "val_acc")


def child_runs(parent_run_id: str) -> pd.DataFrame:
    return mlflow.search_runs(search_all_experiments=True,
                              filter_string=f"tags.`{PARENT_RUN_TAG}` = '{parent_run_id}'")


def latest_sweep(experiment_name: str) -> str:
    runs = mlflow.search_runs(experiment_names=[experiment_name], filter_string=f"tags.{SWEEP_ROLE_TAG} = 'parent'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    if runs.empty:
        raise PipelineError(f"experiment {experiment_name!r} has no sweep yet")
    return runs.run_id.iloc[0]


def select_runs(experiment_name: str | None = None, sweep: str | None = None,
                run_ids: list[str] | None = None) -> pd.DataFrame:
    """The runs of one sweep (its parent's id), a list of run ids, or a whole experiment (sweep
    parents left out), as `mlflow.search_runs` gives them."""
    if sweep:
        client = MlflowClient()
        try:
            client.get_run(sweep)
        except MlflowException:
            raise PipelineError(f"no run {sweep!r} in the store {mlflow.get_tracking_uri()}") from None
        runs = child_runs(sweep)
        if runs.empty:
            raise PipelineError(f"run {sweep} has no child runs: is it a sweep's parent run?")
        return runs
    if run_ids:
        quoted = ", ".join(f"'{run_id}'" for run_id in run_ids)
        runs = mlflow.search_runs(search_all_experiments=True, filter_string=f"attributes.run_id IN ({quoted})")
        missing = sorted(set(run_ids) - set(runs.run_id))
        if missing:
            raise PipelineError(f"no such run(s) in the store {mlflow.get_tracking_uri()}: {', '.join(missing)}")
        return runs
    experiment = mlflow.get_experiment_by_name(experiment_name)
    if experiment is None:
        raise PipelineError(f"no experiment {experiment_name!r} in the store {mlflow.get_tracking_uri()}")
    runs = mlflow.search_runs([experiment.experiment_id])
    if f"tags.{SWEEP_ROLE_TAG}" in runs.columns:
        runs = runs[runs[f"tags.{SWEEP_ROLE_TAG}"] != "parent"]
    if runs.empty:
        raise PipelineError(f"experiment {experiment_name!r} has no runs")
    return runs


def log_comparison(parent_run_id: str, folder: Path) -> None:
    MlflowClient().log_artifacts(parent_run_id, str(folder), "comparison")


def metric_curves(client: MlflowClient, run_ids, names=CURVES) -> tuple[str, pd.DataFrame]:
    """The runs' metric histories, one row per point (run_id, metric, step, epoch, value), and the unit
    to plot them against: "epoch" when every run counts epochs (trainer.max_steps <= 0), else "step".

    Points pair by when they were logged, never by position: step-based recipes validate every
    val_check_interval steps but log training metrics once per epoch. `step` is the optimizer steps
    done (Lightning logs at the last batch's 0-based index, so MLflow's step + 1); `epoch` counts from
    1 (the `epoch` metric Lightning logs at the same step). A point logged twice at one step or epoch
    (a resumed run, several validations in an epoch) keeps its last value."""
    rows = []
    for run_id in run_ids:
        epochs = {m.step: int(m.value) + 1 for m in client.get_metric_history(run_id, "epoch")}
        for name in names:
            history = sorted(client.get_metric_history(run_id, name), key=lambda m: (m.step, m.timestamp))
            rows += [(run_id, name, m.step + 1, epochs.get(m.step), m.value) for m in history]
    max_steps = [float(client.get_run(run_id).data.params.get("trainer.max_steps", -1)) for run_id in run_ids]
    unit = "epoch" if all(steps <= 0 for steps in max_steps) else "step"
    points = pd.DataFrame(rows, columns=["run_id", "metric", "step", "epoch", "value"])
    points = points.drop_duplicates(["run_id", "metric", unit], keep="last")
    return unit, points.sort_values(["run_id", "metric", unit], kind="stable").reset_index(drop=True)


def runs_per_seed(experiment_name: str) -> dict[tuple[str, str, str, str], list]:
    """(recipe, dataset, normalize, hardware) -> the newest finished run with a test accuracy for
    each seed, newest first."""
    runs = mlflow.search_runs(experiment_names=[experiment_name], filter_string="attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], output_format="list")
    groups, seen = {}, set()
    for run in runs:
        tags, params = run.data.tags, run.data.params
        if "test_acc" not in run.data.metrics or "recipe" not in tags:
            continue
        key = (tags["recipe"], tags["dataset"], params.get("data.normalize", "True"), tags.get("hardware", "?"))
        if (key, params.get("seed")) not in seen:
            seen.add((key, params.get("seed")))
            groups.setdefault(key, []).append(run)
    return groups
