"""Checkpoint I/O: written whole or not at all, and loaded back as a Classifier."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint

from ..core.atomic import atomic_path
from ..core.config import check_buildable
from ..core.errors import ConfigError, PipelineError
from .classifier import Classifier


class BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that forgets a restored best whose file is gone (a finished training's
    in-progress folder goes once published), so a resumed training writes a best.ckpt again
    instead of none."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if Path(state_dict.get("best_model_path") or "").is_file():
            super().load_state_dict(state_dict)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file beside the target, then renames it into place, so an interrupted
    save never replaces a good checkpoint with a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents as plain data (tensors, dicts, numbers: torch.load with
    weights_only=True, so no pickled object is ever rebuilt)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"checkpoint {path} not found: run the train stage first")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a checkpoint, or holding objects that are not plain data
        raise PipelineError(f"{path} is not a readable checkpoint ({str(err).splitlines()[0]})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise PipelineError(f"{path} is not a Lightning checkpoint (no state_dict)")
    return checkpoint


def load_checkpoint(path: Path) -> tuple[Classifier, dict]:
    """The trained module and the raw checkpoint (its config, MLflow run id, ...), on the CPU.
    What the checkpoint says to build is checked against the allow-list before anything is built."""
    checkpoint = read_checkpoint(path)
    hparams = checkpoint.get("hyper_parameters") or {}
    check_buildable(hparams.get("model"), "model", source=str(path))
    check_buildable(hparams.get("optimizer"), "optimizer", source=str(path))
    if hparams.get("scheduler") is not None:
        check_buildable(hparams["scheduler"], "scheduler", source=str(path))
    module = Classifier.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    return module, checkpoint


def resume_checkpoint(path: str | Path, model: dict) -> dict:
    """The checkpoint a training resumes from, checked before anything starts: it must load as data
    and hold the model the config asks for."""
    checkpoint = read_checkpoint(Path(path))
    saved = (checkpoint.get("config") or {}).get("model")
    if saved != model:
        raise ConfigError(f"resume_from: {path} holds model {saved}, but the config asks for {model}")
    return checkpoint


def publish_checkpoints(running_dir: Path, models_dir: Path) -> None:
    """A finished training's best.ckpt and last.ckpt, copied whole into models_dir; then its
    in-progress folder goes."""
    for name in ("best.ckpt", "last.ckpt"):
        with atomic_path(models_dir / name) as tmp:
            shutil.copyfile(running_dir / name, tmp)
    shutil.rmtree(running_dir)


def checkpoint_sha256(path: Path) -> str:
    """The checkpoint file's content hash, which identifies the model version registered from it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
