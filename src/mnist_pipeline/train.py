"""Stage 3: train a model of the zoo with Lightning, tracked in MLflow. A Hydra app:

    python -m mnist_pipeline.train model=deep_cnn trainer.max_epochs=2      one run
    python -m mnist_pipeline.train -m model=small_cnn,deep_cnn               a sweep
    python -m mnist_pipeline.train --config-dir . --config-name params       what `dvc repro` runs

    python -m mnist_pipeline.train trainer=ddp trainer.devices=2             two processes, one run

Writes best.ckpt and last.ckpt to paths.models and train_metrics.json to paths.reports (inside
each job's own folder in a sweep) and returns the best validation accuracy, for sweepers. With
several processes (DDP), only the first one (global rank 0) opens the MLflow run and writes files;
the others train their share of the data and return.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .core.atomic import write_text
from .core.config import to_plain, validate
from .core.errors import PipelineError
from .core.noise import quiet_unactionable
from .core.project import project_root

# torch, Lightning and MLflow are imported where they are used (train, _fit), so that `--help`
# and a refused config answer at once.

log = logging.getLogger(__name__)


def in_sweep() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def config_source() -> str:
    """What error messages name: params.yaml when DVC runs the stage, else conf/'s composition."""
    if not HydraConfig.initialized():
        return "config"
    name = HydraConfig.get().job.config_name
    return f"{name}.yaml" if name == "params" else "conf/"


def in_progress_dir(cfg: DictConfig, run_id: str) -> Path:
    """Where a running training keeps its resumable checkpoints: <paths.checkpoints>/<run id>, the
    folder counted from the project root (DVC's experiment copies included)."""
    return project_root() / cfg.paths.checkpoints / run_id


def output_dirs(cfg: DictConfig) -> tuple[Path, Path]:
    """(models, reports) folders: the configured ones, or the job's own folder in a sweep."""
    if in_sweep():
        job_dir = Path(HydraConfig.get().runtime.output_dir)
        return job_dir / "models", job_dir / "reports"
    return Path(cfg.paths.models), Path(cfg.paths.reports)


def requeued_resume_point(cfg: DictConfig) -> str | None:
    """A SLURM job started again (scontrol requeue, preemption): the last checkpoint of the run that
    its earlier start opened, so that it continues that run instead of starting over."""
    from .tracking import runs

    run_id = runs.requeued_run(cfg)
    if run_id is None:
        return None
    checkpoint = in_progress_dir(cfg, run_id) / "last.ckpt"
    if not checkpoint.is_file():
        log.warning("SLURM started job %s again, but its MLflow run %s left no checkpoint in %s: training starts "
                    "over in a new run", runs.slurm_job_id(), run_id, checkpoint.parent)
        return None
    log.info("SLURM started job %s again: resuming MLflow run %s from %s", runs.slurm_job_id(), run_id, checkpoint)
    return str(checkpoint)


def train(cfg: DictConfig) -> float:
    import pytorch_lightning as pl

    from .inference.checkpoints import resume_checkpoint
    from .tracking import runs
    from .tracking.lightning_logger import lightning_logger
    from .training.builders import build_callbacks, check_training_config
    from .training.classifier import Classifier
    from .training.datamodule import MNISTDataModule
    from .training.distributed import check_no_relaunch_in_sweep, launched_as_rank_zero
    from .training.interrupts import outcome

    try:
        source = config_source()
        validate(cfg, source)
        check_training_config(cfg, source)
        # A resume asked for must leave something to train (checked before any run is touched); a
        # requeued job's own checkpoint is taken as it is, as before.
        asked = bool(cfg.resume_from)
        if not cfg.resume_from:
            cfg.resume_from = requeued_resume_point(cfg)
        resumed = resume_checkpoint(cfg.resume_from, to_plain(cfg.model), to_plain(cfg.trainer) if asked else None) \
            if cfg.resume_from else {}
        if in_sweep():
            check_no_relaunch_in_sweep(to_plain(cfg.trainer), source)
    except PipelineError as err:
        if in_sweep() and launched_as_rank_zero():  # every job of a sweep shows up under its parent, failed ones too
            runs.failed_job_run(cfg, str(err))
        raise
    pl.seed_everything(cfg.seed, workers=True)
    models_dir, reports_dir = output_dirs(cfg)
    config = to_plain(cfg)

    datamodule = MNISTDataModule(cfg.paths.prepared, cfg.data.batch_size, cfg.data.normalize,
                                 cfg.data.sample_with_replacement, seed=cfg.seed, num_classes=len(cfg.data.classes))
    module = Classifier(model=config["model"], optimizer=config["optimizer"], num_classes=len(cfg.data.classes),
                        scheduler=config.get("scheduler"))
    extra = build_callbacks(config["callbacks"])
    if not launched_as_rank_zero():  # another process of a DDP training: rank 0 logs and writes
        try:
            return _fit_other_rank(config, module, datamodule, extra)
        except BaseException as err:
            _, code, _ = outcome(err)
            if code:
                raise SystemExit(code) from None
            raise
    logger = lightning_logger(cfg, run_id=resumed.get("mlflow_run_id"))
    try:
        return _fit(cfg, config, module, datamodule, extra, logger, models_dir, reports_dir)
    except BaseException as err:
        status, code, reason = outcome(err)
        runs.end_run(logger.run_id, status, reason)
        if code:
            print(f"{reason}: MLflow run {logger.run_id} marked {status}; resume with "
                  f"resume_from={in_progress_dir(cfg, logger.run_id) / 'last.ckpt'}", file=sys.stderr)
            raise SystemExit(code) from None
        raise


def _trainer(config: dict, callbacks: list, logger, models_dir: Path | None = None):
    import pytorch_lightning as pl
    from lightning_fabric.plugins.environments import SLURMEnvironment

    from .training.checkpoint_saving import AtomicCheckpointIO

    options = dict(config["trainer"])
    if options.get("enable_progress_bar") is None:  # the default: a bar on a terminal, never in a log file
        options["enable_progress_bar"] = sys.stderr.isatty()
    plugins = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        # A requeued job resumes its own run from its checkpoint (requeued_resume_point): Lightning's
        # auto-requeue on SIGUSR1 would instead close the MLflow run as finished and save elsewhere.
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return pl.Trainer(**options, logger=logger, default_root_dir=models_dir, callbacks=callbacks, plugins=plugins)


def _run_fit(trainer, module, datamodule, resume_from) -> float:
    """trainer.fit; returns its wall time in seconds."""
    with warnings.catch_warnings():
        # Batches are slices of in-memory tensors: worker processes would only add overhead.
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        started = time.perf_counter()
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from)
        return time.perf_counter() - started


def _fit_other_rank(config: dict, module, datamodule, extra) -> float:
    """A DDP process other than rank 0: the same callbacks and collective steps, no MLflow run and
    no files (the checkpoint folder is rank 0's, broadcast by ModelCheckpoint; only rank 0 writes)."""
    from .training.callbacks import RngState, Throughput, ValidateLastStep
    from .training.checkpoint_saving import BestCheckpoint

    best = BestCheckpoint(filename="best", monitor="val_acc", mode="max", enable_version_counter=False,
                          save_last=True)
    trainer = _trainer(config, [best, Throughput(), RngState(), ValidateLastStep(), *extra], logger=False)
    _run_fit(trainer, module, datamodule, config["resume_from"])
    trainer.save_checkpoint(Path(best.dirpath) / "last.ckpt", weights_only=False)  # a collective call: rank 0 writes
    return float(best.best_model_score)


def _fit(cfg, config, module, datamodule, extra, logger, models_dir: Path, reports_dir: Path) -> float:
    from .tracking import runs
    from .training.callbacks import ProgressLine, Provenance, RngState, Throughput, ValidateLastStep
    from .training.checkpoint_saving import BestCheckpoint, publish_checkpoints
    from .training.summary import count_parameters, hardware, model_summary
    from .training.threads import share_cores

    if not cfg.resume_from:  # a resumed run keeps the params it started with
        logger.log_hyperparams(runs.flatten(config))
        logger.experiment.log_dict(logger.run_id, config, "config.yaml")
        logger.log_hyperparams({"num_params": count_parameters(module.model)})
    else:
        logger.experiment.set_tag(logger.run_id, "resumed_from", str(Path(cfg.resume_from).resolve()))
    summary = model_summary(module.model)
    log.info("model summary\n%s", summary)
    logger.experiment.log_text(logger.run_id, summary, "model_summary.txt")

    # While training: best.ckpt by validation accuracy and last.ckpt after every validation, written
    # atomically to the run's own folder, so a killed run resumes from its latest validated state and
    # never touches models/ (the last good, finished training's) until it has finished itself.
    running_dir = in_progress_dir(cfg, logger.run_id)
    best = BestCheckpoint(dirpath=running_dir, filename="best", monitor="val_acc", mode="max",
                           enable_version_counter=False, save_last=True)
    throughput = Throughput()
    trainer = _trainer(config, [best, throughput, ProgressLine(throughput), Provenance(logger.run_id, config),
                                RngState(), ValidateLastStep(), *extra], logger, models_dir)
    logger.experiment.set_tag(logger.run_id, "hardware", hardware(trainer))
    logger.experiment.set_tag(logger.run_id, "torch_threads", str(share_cores()))  # parallel jobs share the cores
    wall = _run_fit(trainer, module, datamodule, cfg.resume_from)
    # The final weights, whatever the validation cadence; with the optimizer's state, to resume from.
    trainer.save_checkpoint(running_dir / "last.ckpt", weights_only=False)
    publish_checkpoints(running_dir, models_dir)

    metrics = {
        "best_val_acc": float(best.best_model_score),
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        # As logged: all processes together under DDP.
        "train_images_per_sec": round(float(trainer.callback_metrics.get("train_images_per_sec",
                                                                         throughput.images_per_sec)), 1),
        "fit_seconds": round(wall, 2),
    }
    logger.log_metrics({"best_val_acc": metrics["best_val_acc"], "fit_seconds": wall})
    # Lets a sweep's parent run point at its best job's model.
    logger.experiment.set_tag(logger.run_id, "best_checkpoint", str((models_dir / "best.ckpt").resolve()))
    write_text(reports_dir / "train_metrics.json", json.dumps(metrics, indent=2) + "\n")
    log.info("train: %s (MLflow run %s)", metrics, logger.run_id)
    return metrics["best_val_acc"]


@hydra.main(version_base=None, config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    quiet_unactionable()  # here, once Hydra has set up logging
    if in_sweep():
        return train(cfg)  # Hydra reports a failed job and the sweep records it
    try:
        return train(cfg)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
