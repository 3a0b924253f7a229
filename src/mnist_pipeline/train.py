"""Stage 3: train a model of the zoo with Lightning, tracked in MLflow. A Hydra app:

    python -m mnist_pipeline.train model=deep_cnn trainer.max_epochs=2      one run
    python -m mnist_pipeline.train -m model=small_cnn,deep_cnn               a sweep
    python -m mnist_pipeline.train --config-dir . --config-name params       what `dvc repro` runs

Writes best.ckpt and last.ckpt to paths.models and train_metrics.json to paths.reports (inside
each job's own folder in a sweep) and returns the best validation accuracy, for sweepers.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelCheckpoint

from .core.atomic import write_text
from .core.config import to_plain, validate
from .data.datamodule import MNISTDataModule
from .tracking import runs
from .training.callbacks import Provenance, RngState, Throughput
from .training.checkpoints import AtomicCheckpointIO
from .training.classifier import Classifier
from .training.summary import count_parameters, hardware, model_summary

log = logging.getLogger(__name__)


def output_dirs(cfg: DictConfig) -> tuple[Path, Path]:
    """(models, reports) folders: the configured ones, or the job's own folder in a sweep."""
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        job_dir = Path(HydraConfig.get().runtime.output_dir)
        return job_dir / "models", job_dir / "reports"
    return Path(cfg.paths.models), Path(cfg.paths.reports)


def train(cfg: DictConfig) -> float:
    validate(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    models_dir, reports_dir = output_dirs(cfg)
    config = to_plain(cfg)

    datamodule = MNISTDataModule(cfg.paths.prepared, cfg.data.batch_size, cfg.data.normalize,
                                 cfg.data.sample_with_replacement, seed=cfg.seed, num_classes=len(cfg.data.classes))
    module = Classifier(model=config["model"], optimizer=config["optimizer"], num_classes=len(cfg.data.classes))
    logger = runs.lightning_logger(cfg)
    logger.log_hyperparams(runs.flatten(config))
    logger.experiment.log_dict(logger.run_id, config, "config.yaml")
    logger.log_hyperparams({"num_params": count_parameters(module.model)})
    summary = model_summary(module.model)
    log.info("model summary\n%s", summary)
    logger.experiment.log_text(logger.run_id, summary, "model_summary.txt")

    best = ModelCheckpoint(dirpath=models_dir, filename="best", monitor="val_acc", mode="max",
                           enable_version_counter=False)
    throughput = Throughput()
    extra = [instantiate(spec) for spec in config["callbacks"].values()]
    trainer = pl.Trainer(**config["trainer"], logger=logger, default_root_dir=models_dir,
                         callbacks=[best, throughput, Provenance(logger.run_id, config), RngState(), *extra],
                         plugins=[AtomicCheckpointIO()])
    logger.experiment.set_tag(logger.run_id, "hardware", hardware(trainer))
    with warnings.catch_warnings():
        # Batches are slices of in-memory tensors: worker processes would only add overhead.
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        started = time.perf_counter()
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.resume_from)
        wall = time.perf_counter() - started
    trainer.save_checkpoint(models_dir / "last.ckpt")  # the final weights, whatever the validation cadence

    metrics = {
        "best_val_acc": float(best.best_model_score) if best.best_model_score is not None else 0.0,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "train_images_per_sec": round(throughput.images_per_sec, 1),
        "fit_seconds": round(wall, 2),
    }
    logger.log_metrics({"best_val_acc": metrics["best_val_acc"], "fit_seconds": wall})
    # Lets a sweep's parent run point at its best job's model.
    logger.experiment.set_tag(logger.run_id, "best_checkpoint", str(Path(best.best_model_path).resolve()))
    write_text(reports_dir / "train_metrics.json", json.dumps(metrics, indent=2) + "\n")
    log.info("train: %s (MLflow run %s)", metrics, logger.run_id)
    return metrics["best_val_acc"]


@hydra.main(version_base=None, config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    return train(cfg)


if __name__ == "__main__":
    main()
