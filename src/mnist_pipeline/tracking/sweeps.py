"""MLflow for Hydra sweeps: one parent run per multirun, every job a child run nested under it.

`SweepParentRun` is a Hydra callback (hydra.callbacks.mlflow_sweep in conf/config.yaml). In the
sweep's own process, before any job starts, it creates the store, the experiment and the parent
run, so parallel jobs never race to create the SQLite schema, and it hands the parent's id and the
store's URI to the jobs as config overrides (tracking.parent_run_id, tracking.tracking_uri), which
reach every job whatever runs it: the basic and joblib launchers on this machine, or submitit's on
other machines of a SLURM cluster, which inherit nothing from this process.
When the sweep ends, it records the best job on the parent and attaches a comparison of the jobs.
For an Optuna sweep whose study is kept in a database, it also creates that study before the first trial.
"""

from __future__ import annotations

import atexit
import contextlib
import time
from pathlib import Path

import pandas as pd
from hydra.experimental.callback import Callback
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from omegaconf import DictConfig, open_dict, read_write

from ..core.config import to_plain
from ..core.errors import ConfigError
from ..reports import run_table
from . import BEST_METRIC, runs, store
from .queries import SWEEP_ROLE_TAG, child_runs, log_comparison, metric_curves

_NOTE = "mlflow.note.content"  # the run description shown in the MLflow UI


def sweep_definition(config: DictConfig) -> dict:
    """What defines a sweep: its folder, command-line overrides, sweeper and launcher settings."""
    hydra = config.hydra
    return {"sweep_dir": str(Path(hydra.sweep.dir).resolve()), "overrides": list(hydra.overrides.task),
            "sweeper": to_plain(hydra.sweeper), "launcher": to_plain(hydra.launcher)}


def is_optuna(sweeper: dict) -> bool:
    return sweeper.get("_target_", "").endswith("OptunaSweeper")


def check_sweeper(definition: dict) -> None:
    """Reject sweeper settings that cannot do what they promise, before any job starts."""
    sweeper = definition["sweeper"]
    if is_optuna(sweeper) and sweeper.get("storage") and not sweeper.get("study_name"):
        # Optuna would name a new study at random each time: a rerun would start over, not continue.
        raise ConfigError(f"hydra.sweeper.storage is {sweeper['storage']!r} but hydra.sweeper.study_name is not set: "
                          "name the study, so that a rerun (or another machine) continues the same one")


def create_optuna_study(sweeper: dict) -> None:
    """Create the sweep's Optuna study in its database (hydra.sweeper.storage), unless it exists.

    The sweeper then loads it (`load_if_exists`): a rerun continues it, and several sweeps on the
    same study share its trials. Created here, before any sweep asks for a trial, under a lock for
    SQLite, and retried on a database server: optuna, like MLflow, creates a new database's tables
    on first use, and two sweeps starting at once would both try."""
    import optuna

    storage = sweeper.get("storage")
    if not (is_optuna(sweeper) and storage):
        return
    direction = sweeper.get("direction") or "minimize"
    directions = [direction] if isinstance(direction, str) else list(direction)
    lock = store.sqlite_lock(storage) if str(storage).startswith("sqlite:///") else contextlib.nullcontext()
    with lock:
        for attempt in range(1, 4):
            try:
                optuna.create_study(study_name=sweeper["study_name"], storage=storage, directions=directions,
                                    load_if_exists=True)
                return
            except Exception:  # on a database server, another sweep created the tables or the study meanwhile
                if attempt == 3:
                    raise
                time.sleep(attempt)


def start_parent_run(config: DictConfig) -> str:
    """Create the store, the experiment and the sweep's parent run, recording the sweep's definition."""
    definition = sweep_definition(config)
    check_sweeper(definition)
    create_optuna_study(definition["sweeper"])
    experiment_id = store.setup(config)
    name = "sweep " + "/".join(Path(definition["sweep_dir"]).parts[-2:])
    tags = {**runs.source_tags(config), SWEEP_ROLE_TAG: "parent", "hydra_sweep_dir": definition["sweep_dir"]}
    client = MlflowClient()
    run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
    params = runs.flatten({"sweeper": definition["sweeper"], "launcher": definition["launcher"]}, "sweep.")
    params["sweep.overrides"] = " ".join(definition["overrides"])
    client.log_batch(run_id, params=[Param(key, str(value)) for key, value in params.items()])
    client.log_dict(run_id, definition, "sweep.yaml")
    return run_id


def best_run(children: pd.DataFrame, metric: str = BEST_METRIC) -> pd.Series | None:
    """The finished child with the highest `metric`, or None when none finished with it."""
    column = f"metrics.{metric}"
    if children.empty or column not in children.columns:
        return None
    finished = children[(children.status == "FINISHED") & children[column].notna()]
    return None if finished.empty else finished.sort_values(column, ascending=False, kind="stable").iloc[0]


def finish_parent_run(parent_run_id: str, comparison_dir: Path) -> pd.Series | None:
    """Record the best child on the parent (its metric, the params the sweep varied, its run id and
    checkpoint) and how many jobs failed, attach the comparison of all children, and mark the parent
    FINISHED (FAILED when no child finished). Returns the best child."""
    client = MlflowClient()
    children = child_runs(parent_run_id)
    failed = int(children.status.isin(["FAILED", "KILLED"]).sum()) if not children.empty else 0
    client.set_tag(parent_run_id, "failed_jobs", str(failed))
    best = best_run(children)
    if best is None:
        client.set_tag(parent_run_id, _NOTE, f"No job finished ({len(children)} jobs).")
        client.set_terminated(parent_run_id, "FAILED")
        return None
    varied = run_table.varying_params(children)
    params = [Param(f"best.{column.removeprefix('params.')}", str(best[column])) for column in varied]
    checkpoint = best.get("tags.best_checkpoint", "")
    note = (f"Best of {len(children)} jobs: run `{best.run_id}` ({best.get(run_table.RUN_NAME, '')}), "
            f"{BEST_METRIC} {best[f'metrics.{BEST_METRIC}']:.4f}, overrides "
            f"`{best.get('tags.hydra_overrides', '')}`, checkpoint `{checkpoint}`."
            + (f" {failed} of {len(children)} jobs failed: see their `error` tags." if failed else ""))
    tags = [RunTag("best_run_id", best.run_id), RunTag("best_checkpoint", str(checkpoint)),
            RunTag("best_overrides", str(best.get("tags.hydra_overrides", ""))), RunTag(_NOTE, note)]
    metric = Metric(BEST_METRIC, float(best[f"metrics.{BEST_METRIC}"]), int(time.time() * 1000), 0)
    client.log_batch(parent_run_id, metrics=[metric], params=params, tags=tags)
    rows = run_table.table(children, BEST_METRIC)
    run_table.write(rows, metric_curves(client, rows.run_id, ["val_acc"]), comparison_dir, f"Sweep {parent_run_id[:8]}")
    log_comparison(parent_run_id, comparison_dir)
    client.set_terminated(parent_run_id, "FINISHED")
    return best


def _quoted(value: str) -> str:
    """A Hydra override value as a quoted string (a path or URI may hold characters the grammar reads)."""
    return "'" + value.replace("'", "\\'") + "'"


def pass_to_jobs(config: DictConfig, values: dict[str, str]) -> None:
    """Give every job of this sweep these config values. Each launcher composes a job's config from
    the sweep's config and its `hydra.overrides.hydra` plus the job's own overrides, in the job's
    process, so an override added here reaches jobs on any machine (an environment variable would
    not reach a SLURM job's)."""
    with read_write(config.hydra.overrides), open_dict(config.hydra.overrides):
        config.hydra.overrides.hydra.extend([f"{key}={_quoted(str(value))}" for key, value in values.items()])


class SweepParentRun(Callback):
    """Hydra callback: the parent run of each multirun (see the module docstring)."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.comparison_dir: Path | None = None
        self.finished = False

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            self.run_id, self.finished = start_parent_run(config), False
            pass_to_jobs(config, dict(zip(runs.SWEEP_KEYS, (self.run_id, store.tracking_uri(config)))))
        except Exception as err:
            # Hydra would only warn and start the jobs anyway, which then log to no parent run and,
            # in parallel on a new SQLite store, race to create it. Stop the sweep instead.
            raise SystemExit(f"error: the sweep's MLflow parent run could not be started: {err}") from err
        self.comparison_dir = Path(config.hydra.sweep.dir) / "comparison"
        # A failed job ends the sweep with an exception and on_multirun_end never runs.
        atexit.register(self._finish_if_unfinished)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        finish_parent_run(self.run_id, self.comparison_dir)
        self.finished = True

    def _finish_if_unfinished(self) -> None:
        """The sweep stopped on a failed job: still record the best finished job, the comparison
        and the failures on the parent."""
        if self.run_id and not self.finished:
            try:
                finish_parent_run(self.run_id, self.comparison_dir)
            except Exception:  # at exit nothing may be raised; never leave the parent RUNNING
                MlflowClient().set_terminated(self.run_id, "FAILED")
