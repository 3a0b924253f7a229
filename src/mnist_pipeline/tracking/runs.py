"""Runs: what each one is tagged with, the Lightning logger that opens it, and params in MLflow's flat form."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from pytorch_lightning.loggers import MLFlowLogger

from ..core.config import FILE_KEYS
from ..core.project import git_commit, project_root
from .store import setup, tracking_uri

# Set by the sweep's parent process (see sweeps) before any job starts; local launchers'
# worker processes (joblib's loky workers too) inherit it.
SWEEP_PARENT_ENV = "MNIST_PIPELINE_SWEEP_PARENT_RUN_ID"
PARENT_RUN_TAG = "mlflow.parentRunId"  # what the MLflow UI nests child runs by


def dataset_digest(cfg: DictConfig) -> str:
    """One checksum for the dataset: sha256 over the four files' content checksums."""
    joined = ",".join(cfg.data.files[key].sha256 for key in FILE_KEYS)
    return hashlib.sha256(joined.encode()).hexdigest()


def source_tags(cfg: DictConfig) -> dict[str, str]:
    """Code version and data of a run (or a sweep)."""
    return {
        "git_commit": git_commit(project_root()) or "unknown",
        "dataset": cfg.data.name,
        "dataset_sha256": dataset_digest(cfg),
    }


def run_tags(cfg: DictConfig) -> dict[str, str]:
    """Where a run came from: code version, data, and the DVC stage or Hydra sweep job."""
    tags = {**source_tags(cfg), "model": cfg.model._target_.rsplit(".", 1)[-1], "recipe": cfg.recipe}
    for env, tag in (("DVC_STAGE", "dvc_stage"), ("DVC_EXP_NAME", "dvc_exp_name")):
        if os.environ.get(env):
            tags[tag] = os.environ[env]
    tags.update(_hydra_job_tags())
    return tags


def _hydra_job_tags() -> dict[str, str]:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return {}
    tags = {"hydra_sweep_dir": str(Path(hydra.sweep.dir).resolve()), "hydra_job_num": str(hydra.job.num),
            "hydra_overrides": " ".join(hydra.overrides.task)}
    if os.environ.get(SWEEP_PARENT_ENV):
        tags[PARENT_RUN_TAG] = os.environ[SWEEP_PARENT_ENV]
    return tags


def lightning_logger(cfg: DictConfig, run_name: str | None = None) -> MLFlowLogger:
    setup(cfg)
    tags = run_tags(cfg)
    if run_name is None and "hydra_job_num" in tags:
        run_name = f"job-{tags['hydra_job_num']}"  # as listed nested under the sweep's parent run
    return MLFlowLogger(experiment_name=cfg.tracking.experiment_name, tracking_uri=tracking_uri(cfg),
                        run_name=run_name, tags=tags, log_model=False)


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
