"""The MLflow logger Lightning writes a training run through: a new run with the project's tags,
or a resumed training's run reopened. (Apart from runs.py, so that scoring a model never imports
Lightning.)"""

from __future__ import annotations

import logging

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig
from pytorch_lightning.loggers import MLFlowLogger

from ..core.errors import PipelineError
from .runs import ERROR_TAG, descriptive_run_name, job_run_name, mark_abandoned_runs, process_tags, run_tags
from .store import setup, tracking_uri

log = logging.getLogger(__name__)


class _Logger(MLFlowLogger):
    """Lightning's MLflow logger, except that closing a failed or interrupted run never raises: a
    locked SQLite store there would replace the interrupt's exit code (130, 143) with a store
    error. end_run then closes the run, trying again."""

    def finalize(self, status: str = "success") -> None:
        try:
            super().finalize(status)
        except Exception as err:  # MlflowException, or the database driver's own errors
            if status == "success":
                raise
            log.warning("could not close MLflow run %s as %s (%s); trying again", self.run_id, status, err)


def lightning_logger(cfg: DictConfig, run_name: str | None = None, run_id: str | None = None) -> MLFlowLogger:
    """The logger of a new run, or of run `run_id` reopened (a resumed training continues its run)."""
    experiment_id = setup(cfg)
    mark_abandoned_runs(experiment_id)
    tags = {**run_tags(cfg), **process_tags()}
    if run_name is None and "hydra_job_num" in tags:
        run_name = job_run_name(tags)
    elif run_name is None and run_id is None:
        run_name = descriptive_run_name(cfg)
    logger = _Logger(experiment_name=cfg.tracking.experiment_name, tracking_uri=tracking_uri(cfg),
                     run_name=run_name, tags=tags, log_model=False, run_id=run_id)
    if run_id is not None:
        client = MlflowClient()
        try:
            reopened = client.get_run(run_id)
        except MlflowException:
            raise PipelineError(f"the checkpoint's MLflow run {run_id} is not in the store "
                                f"{tracking_uri(cfg)}") from None
        client.update_run(run_id, status="RUNNING")
        if ERROR_TAG in reopened.data.tags:  # what stopped it is history now, not why it failed
            client.set_tag(run_id, "resumed_after", reopened.data.tags[ERROR_TAG])
            client.delete_tag(run_id, ERROR_TAG)
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
    return logger
