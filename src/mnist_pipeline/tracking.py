"""The one place that knows how to reach MLflow: store, experiment, run tags, registry and aliases."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig
from pytorch_lightning.loggers import MLFlowLogger

from .config import FILE_KEYS
from .project import git_commit, project_root

CHAMPION = "champion"
_SQLITE = "sqlite:///"
# Set by the sweep's parent process (see sweep_tracking) before any job starts; local launchers'
# worker processes (joblib's loky workers too) inherit it.
SWEEP_PARENT_ENV = "MNIST_PIPELINE_SWEEP_PARENT_RUN_ID"
PARENT_RUN_TAG = "mlflow.parentRunId"  # what the MLflow UI nests child runs by


def tracking_uri(cfg: DictConfig) -> str:
    """MLFLOW_TRACKING_URI, else tracking.tracking_uri, else a SQLite store at the project root.

    A relative SQLite path counts from the project root, so DVC's temporary experiment copies
    log into the same store as the workspace."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking.tracking_uri or "sqlite:///mlflow.db"
    if uri.startswith(_SQLITE) and not Path(uri[len(_SQLITE):]).is_absolute():
        uri = _SQLITE + str(project_root() / uri[len(_SQLITE):])
    return uri


def connect(cfg: DictConfig) -> str:
    """Point mlflow (tracking and registry) at the store; returns its URI."""
    uri = tracking_uri(cfg)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def setup(cfg: DictConfig) -> str:
    """Point mlflow at the store and make sure the experiment exists; returns its id.

    With a SQLite store, a new experiment keeps its artifacts in mlruns/ beside the database."""
    uri = connect(cfg)
    name = cfg.tracking.experiment_name
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifacts = None
    if uri.startswith(_SQLITE):
        artifacts = (Path(uri[len(_SQLITE):]).parent / "mlruns").as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=artifacts)
    except MlflowException:  # created meanwhile by a concurrent job
        return mlflow.get_experiment_by_name(name).experiment_id


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


def champion_accuracy(client: MlflowClient, model_name: str) -> float | None:
    """Test accuracy recorded on the version that holds the champion alias, if any."""
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None
    value = version.tags.get("test_acc")
    return float(value) if value is not None else None


def promote_if_better(client: MlflowClient, model_name: str, version: str, test_acc: float,
                      min_accuracy: float) -> bool:
    """Move `champion` to this version if it passes the minimum and beats the current champion."""
    client.set_model_version_tag(model_name, version, "test_acc", repr(float(test_acc)))
    current = champion_accuracy(client, model_name)
    if test_acc < min_accuracy or (current is not None and test_acc <= current):
        return False
    client.set_registered_model_alias(model_name, CHAMPION, version)
    return True
