"""Checkpoints read back as data: torch.load with weights_only=True, what they name checked against
the allow-list, and the network rebuilt without Lightning (so evaluate and predict start without
importing it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from ..core.config import check_buildable
from ..core.errors import ConfigError, PipelineError
from ..models.build import build_model


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


def load_checkpoint(path: Path) -> tuple[nn.Module, dict]:
    """The trained network in eval mode and the raw checkpoint (its config, MLflow run id, ...), on
    the CPU. What the checkpoint says to build is checked against the allow-list before anything is
    built; the weights must fit the network exactly."""
    checkpoint = read_checkpoint(path)
    hparams = checkpoint.get("hyper_parameters") or {}
    check_buildable(hparams.get("model"), "model", source=str(path))
    check_buildable(hparams.get("optimizer"), "optimizer", source=str(path))
    if hparams.get("scheduler") is not None:
        check_buildable(hparams["scheduler"], "scheduler", source=str(path))
    network = build_model(hparams.get("model"), hparams.get("num_classes", 10), source=str(path))
    prefix = "model."  # the Classifier's attribute holding the network
    weights = {key.removeprefix(prefix): value for key, value in checkpoint["state_dict"].items()}
    try:
        network.load_state_dict(weights)
    except RuntimeError as err:  # missing, unexpected or misshapen tensors, one line each
        details = "; ".join(line.strip() for line in str(err).splitlines()[1:])
        raise PipelineError(f"{path}: its weights do not fit the model it names ({details})") from None
    return network.eval(), checkpoint


def resume_checkpoint(path: str | Path, model: dict) -> dict:
    """The checkpoint a training resumes from, checked before anything starts: it must load as data
    and hold the model the config asks for."""
    checkpoint = read_checkpoint(Path(path))
    saved = (checkpoint.get("config") or {}).get("model")
    if saved != model:
        raise ConfigError(f"resume_from: {path} holds model {saved}, but the config asks for {model}")
    return checkpoint


def checkpoint_sha256(path: Path) -> str:
    """The checkpoint file's content hash, which identifies the model version registered from it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
