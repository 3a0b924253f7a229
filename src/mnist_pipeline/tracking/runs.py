"""Runs: what each one is tagged with, and params in MLflow's flat form (the Lightning logger that opens a
run is in tracking/lightning_logger.py)."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import psutil
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from omegaconf import DictConfig, OmegaConf

from ..core.config import FILE_KEYS
from ..core.errors import PipelineError
from ..core.project import git_commit, project_root
from ..data.archives import mirrors_used
from .store import setup

# Where a sweep job logs, given to every job in its config by the sweep (see sweeps): jobs that run
# on other machines inherit nothing from the launching process.
SWEEP_KEYS = ("tracking.parent_run_id", "tracking.tracking_uri")
PARENT_RUN_TAG = "mlflow.parentRunId"  # what the MLflow UI nests child runs by
ERROR_TAG = "error"  # why a run FAILED or was KILLED
MIRROR_TAG = "data_mirror"  # where the run's archives were fetched from (MNIST_PIPELINE_MIRROR or data.mirrors)
log = logging.getLogger(__name__)


def dataset_digest(cfg: DictConfig) -> str:
    """One checksum for the dataset: sha256 over the four files' content checksums."""
    joined = ",".join(cfg.data.files[key].sha256 for key in FILE_KEYS)
    return hashlib.sha256(joined.encode()).hexdigest()


def check_same_dataset(trained: DictConfig, cfg: DictConfig, source: str) -> None:
    """Refuse to score a model trained on one dataset with another's test set (by name and content)."""
    was, now = (f"{c.data.name} (sha256 {dataset_digest(c)[:12]})" for c in (trained, cfg))
    if was != now:
        raise PipelineError(f"{source} was trained on dataset {was}, but params.yaml's test set is {now}: "
                            "evaluate it with the data it was trained on")


def source_tags(cfg: DictConfig) -> dict[str, str]:
    """Code version and data of a run (or a sweep)."""
    return {
        "git_commit": git_commit(project_root()) or "unknown",
        "dataset": cfg.data.name,
        "dataset_sha256": dataset_digest(cfg),
    }


def run_tags(cfg: DictConfig) -> dict[str, str]:
    """Where a run came from: code version, data (and the mirror it was fetched from, where the download
    recorded one), and the DVC stage or Hydra sweep job."""
    tags = {**source_tags(cfg), "model": cfg.model._target_.rsplit(".", 1)[-1], "recipe": cfg.recipe}
    if mirrors := mirrors_used(Path(cfg.paths.raw)):
        tags[MIRROR_TAG] = " ".join(mirrors)
    for env, tag in (("DVC_STAGE", "dvc_stage"), ("DVC_EXP_NAME", "dvc_exp_name")):
        if os.environ.get(env):
            tags[tag] = os.environ[env]
    tags.update(_hydra_job_tags(cfg))
    return tags


def _hydra_job_tags(cfg: DictConfig) -> dict[str, str]:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return {}
    # The job's own overrides: where it logs (SWEEP_KEYS) is the sweep's, not what it trained.
    overrides = [o for o in hydra.overrides.task if o.split("=", 1)[0] not in SWEEP_KEYS]
    tags = {"hydra_sweep_dir": str(Path(hydra.sweep.dir).resolve()), "hydra_job_num": str(hydra.job.num),
            "hydra_overrides": " ".join(overrides)}
    parent = OmegaConf.select(cfg, "tracking.parent_run_id")
    if parent:
        tags[PARENT_RUN_TAG] = parent
    return tags


def job_run_name(tags: dict[str, str], limit: int = 120) -> str:
    """A sweep job's name: its number, as listed nested under the sweep's parent run, then its
    overrides (`job-3 optimizer.lr=0.003 model.dropout=0.2`), cut to `limit` characters."""
    name = f"job-{tags['hydra_job_num']} {tags.get('hydra_overrides', '')}".strip()
    return name if len(name) <= limit else name[:limit - 1] + "…"


def descriptive_run_name(cfg: DictConfig) -> str:
    """What ran, on what, and a short random id that keeps names apart (MLflow's own names repeat
    for runs started with the same seed): `<recipe, or model when no recipe>-<dataset>-<6 hex>`."""
    what = cfg.recipe if cfg.recipe != "default" else cfg.model._target_.rsplit(".", 1)[-1]
    return f"{what}-{cfg.data.name}-{secrets.token_hex(3)}"


# Tags that let a later run tell whether a RUNNING run's process is still alive.
HOST_TAG, PID_TAG, STARTED_TAG = "process_host", "process_pid", "process_started"


@contextmanager
def reopened(run_id: str):
    """`mlflow.start_run` on an existing run, whatever its experiment (the fluent API refuses a run
    of another experiment than the one last made active in this process). A finished run keeps its
    status and end time: ending the reopened run would otherwise stamp it FINISHED (or FAILED) now,
    and its duration in the UI would grow by the time until evaluate or export_onnx ran."""
    client = MlflowClient()
    info = client.get_run(run_id).info
    mlflow.set_experiment(experiment_id=info.experiment_id)
    try:
        with mlflow.start_run(run_id=run_id) as run:
            yield run
    finally:
        if RunStatus.is_terminated(RunStatus.from_string(info.status)):
            client.set_terminated(run_id, info.status, info.end_time)


def process_tags() -> dict[str, str]:
    me = psutil.Process()
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(me.pid), STARTED_TAG: repr(me.create_time())}
    if slurm_job_id():  # which SLURM job ran it, and how often SLURM has started that job again
        tags[SLURM_JOB_TAG] = slurm_job_id()
        tags[SLURM_RESTARTS_TAG] = os.environ.get("SLURM_RESTART_COUNT") or "0"
        if os.environ.get("SLURM_ARRAY_JOB_ID"):  # a task of a job array (submitit's sweeps)
            tags[SLURM_ARRAY_TAG] = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID')}"
    return tags


SLURM_JOB_TAG, SLURM_RESTARTS_TAG, SLURM_ARRAY_TAG = "slurm_job_id", "slurm_restart_count", "slurm_array_task"


def slurm_job_id() -> str | None:
    """This process's SLURM job (each task of a job array has its own, the id sacct lists), or None
    outside SLURM."""
    return os.environ.get("SLURM_JOB_ID") or None


def requeued_run(cfg: DictConfig) -> str | None:
    """When SLURM has started this job again (scontrol requeue, a preemption, a failed node), the
    unfinished run that its earlier start opened; else None. SLURM counts the starts in
    SLURM_RESTART_COUNT and keeps the job id."""
    job = slurm_job_id()
    if not job or not int(os.environ.get("SLURM_RESTART_COUNT") or 0):
        return None
    experiment_id = setup(cfg)
    found = MlflowClient().search_runs(
        [experiment_id], f"tags.{SLURM_JOB_TAG} = '{job}' and attributes.status != 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1)
    return found[0].info.run_id if found else None


def _alive(pid: str, started: str) -> bool:
    try:
        return psutil.Process(int(pid)).create_time() == float(started)  # the same process, not a reused pid
    except (psutil.Error, ValueError):
        return False


def mark_abandoned_runs(experiment_id: str) -> list[str]:
    """Mark KILLED the RUNNING runs of this host whose process is gone (killed with SIGKILL, say);
    returns their ids."""
    client = MlflowClient()
    running = client.search_runs([experiment_id], "attributes.status = 'RUNNING' "
                                 f"and tags.{HOST_TAG} = '{socket.gethostname()}'")
    gone = [run for run in running if not _alive(run.data.tags.get(PID_TAG, ""), run.data.tags.get(STARTED_TAG, ""))]
    for run in gone:
        client.set_tag(run.info.run_id, ERROR_TAG, f"process {run.data.tags.get(PID_TAG)} ended without "
                                                   "closing the run (killed); marked by a later run")
        client.set_terminated(run.info.run_id, "KILLED")
    return [run.info.run_id for run in gone]


def end_run(run_id: str, status: str, reason: str, attempts: int = 3) -> None:
    """Close a run as FAILED or KILLED, saying why. An interrupt can land mid-write and leave a
    SQLite store locked for a moment, so this tries again; if it still cannot, the run stays
    RUNNING and the next training marks it KILLED (its process is gone by then)."""
    client = MlflowClient()
    for attempt in range(1, attempts + 1):
        try:
            client.set_tag(run_id, ERROR_TAG, reason[:5000])
            client.set_terminated(run_id, status)
            return
        except Exception as err:  # MlflowException, or the database driver's own errors
            if attempt == attempts:
                log.warning("could not mark MLflow run %s %s (%s); the next training will", run_id, status, err)
            else:
                time.sleep(attempt)


def failed_job_run(cfg: DictConfig, reason: str) -> str:
    """A FAILED run for a sweep job that failed before its run existed (a bad value in the sweep,
    say), so every job shows up under the sweep's parent."""
    setup(cfg)
    tags = {**run_tags(cfg), **process_tags(), ERROR_TAG: reason[:5000]}
    run = MlflowClient().create_run(mlflow.get_experiment_by_name(cfg.tracking.experiment_name).experiment_id,
                                    run_name=job_run_name(tags) if "hydra_job_num" in tags else None,
                                    tags=tags)
    MlflowClient().set_terminated(run.info.run_id, "FAILED")
    return run.info.run_id


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}, the form MLflow params take."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def log_dataset_input(cfg: DictConfig) -> None:
    """The run's data as an MLflow dataset input (the runs table's Dataset column): the dataset's name,
    its digest (dataset_digest, over the four archives' checksums; MLflow keeps 36 characters) and the
    mirror it was fetched from as the source (else the first configured one). Logged to the active run;
    logging it again adds nothing."""
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    used = mirrors_used(Path(cfg.paths.raw))
    source = HTTPDatasetSource(url=used[0] if used else str(cfg.data.mirrors[0]))  # a URL, or a local folder
    dataset = MetaDataset(source, name=str(cfg.data.name), digest=dataset_digest(cfg)[:32])
    mlflow.log_input(dataset, context="training")
