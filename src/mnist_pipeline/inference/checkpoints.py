"""Checkpoints read back as data: torch.load with weights_only=True, what they name checked against
the allow-list, and the network rebuilt without Lightning (so evaluate and predict start without
importing it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from ..core.config import FILE_KEYS, MODEL_SUPPLIED, OPTIMIZER_SUPPLIED, SCHEDULER_SUPPLIED
from ..core.errors import ConfigError, PipelineError, first_line
from ..core.specs import MAX_CLASSES, check_spec, check_targets, check_value
from ..models.build import build_model


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents as plain data (tensors, dicts, numbers: torch.load with
    weights_only=True, so no pickled object is ever rebuilt)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"checkpoint {path} not found: run the train stage first")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, empty, not a checkpoint, or holding objects that are not plain data
        raise PipelineError(f"{path} is not a readable checkpoint ({first_line(err)})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise PipelineError(f"{path} is not a Lightning checkpoint (no state_dict)")
    check_checkpoint(checkpoint, str(path))
    return checkpoint


def check_checkpoint(checkpoint: dict, source: str) -> None:
    """Everything the readers (predict, evaluate, resume) use, checked before any of it is: every
    `_target_` anywhere in the file exactly a registered name, the model, optimizer and scheduler
    specs argument by argument, and the sections the train stage writes of the types it writes."""
    check_targets(checkpoint, source)

    def section(node: dict, key: str, where: str, kind: type | tuple = dict):
        if not isinstance(node, dict) or key not in node:
            raise PipelineError(f"{source}: missing key '{where}' (was it written by the train stage?)")
        if not isinstance(node[key], kind):
            raise PipelineError(f"{source}: '{where}' must be a {_kind_name(kind)}, got {type(node[key]).__name__}")
        return node[key]

    weights = section(checkpoint, "state_dict", "state_dict")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        raise PipelineError(f"{source}: 'state_dict' must map names to tensors")
    hparams = section(checkpoint, "hyper_parameters", "hyper_parameters")
    check_spec(section(hparams, "model", "hyper_parameters.model"), "hyper_parameters.model", source,
               kind="model", supplied=MODEL_SUPPLIED)
    check_spec(section(hparams, "optimizer", "hyper_parameters.optimizer"), "hyper_parameters.optimizer", source,
               kind="optimizer", supplied=OPTIMIZER_SUPPLIED)
    if hparams.get("scheduler") is not None:
        check_spec(hparams["scheduler"], "hyper_parameters.scheduler", source, kind="scheduler",
                   supplied=SCHEDULER_SUPPLIED)
    check_value("num_classes", section(hparams, "num_classes", "hyper_parameters.num_classes", int),
                "hyper_parameters.num_classes", source)
    section(checkpoint, "mlflow_run_id", "mlflow_run_id", str)
    for key in ("epoch", "global_step"):
        if not isinstance(checkpoint.get(key, 0), int) or checkpoint.get(key, 0) < 0:
            raise PipelineError(f"{source}: '{key}' must be a whole number ≥ 0")
    config = section(checkpoint, "config", "config")
    if section(config, "model", "config.model") != hparams["model"]:
        raise PipelineError(f"{source}: 'config.model' and 'hyper_parameters.model' differ; which one was trained?")
    data = section(config, "data", "config.data")
    classes = section(data, "classes", "config.data.classes", list)
    if not 0 < len(classes) <= MAX_CLASSES or not all(isinstance(c, str) and len(c) <= 100 for c in classes):
        raise PipelineError(f"{source}: 'config.data.classes' must be 1 to {MAX_CLASSES} names")
    if len(classes) != hparams["num_classes"]:
        raise PipelineError(f"{source}: 'config.data.classes' names {len(classes)} classes, "
                            f"'hyper_parameters.num_classes' says {hparams['num_classes']}")
    section(data, "normalize", "config.data.normalize", bool)
    section(data, "name", "config.data.name", str)
    files = section(data, "files", "config.data.files")
    for key in FILE_KEYS:
        section(section(files, key, f"config.data.files.{key}"), "sha256", f"config.data.files.{key}.sha256", str)
    section(section(config, "paths", "config.paths"), "prepared", "config.paths.prepared", str)


def _kind_name(kind: type | tuple) -> str:
    names = {dict: "mapping", list: "list", str: "string", int: "whole number", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in (kind if isinstance(kind, tuple) else (kind,)))


def load_checkpoint(path: Path) -> tuple[nn.Module, dict]:
    """The trained network in eval mode and the raw checkpoint (its config, MLflow run id, ...), on
    the CPU. What the checkpoint says to build is checked against the allow-list before anything is
    built; the weights must fit the network exactly."""
    checkpoint = read_checkpoint(path)  # checked whole: nothing below meets a value of the wrong kind
    hparams = checkpoint["hyper_parameters"]
    network = build_model(hparams["model"], hparams["num_classes"], source=str(path), key="hyper_parameters.model")
    prefix = "model."  # the Classifier's attribute holding the network
    weights = {key.removeprefix(prefix): value for key, value in checkpoint["state_dict"].items()}
    try:
        network.load_state_dict(weights)
    except RuntimeError as err:  # missing, unexpected or misshapen tensors, one line each
        details = "; ".join(line.strip() for line in str(err).splitlines()[1:])
        raise PipelineError(f"{path}: its weights do not fit the model it names ({details})") from None
    return network.eval(), checkpoint


def resume_checkpoint(path: str | Path, model: dict, trainer: dict | None = None) -> dict:
    """The checkpoint a training resumes from, checked before anything starts: it must load as data,
    hold the model the config asks for and, when `trainer` (the config's Trainer settings) is given,
    leave some of their schedule to train."""
    checkpoint = read_checkpoint(Path(path))
    saved = checkpoint["config"]["model"]
    if saved != model:
        raise ConfigError(f"resume_from: {path} holds model {saved}, but the config asks for {model}")
    if trainer is not None:
        check_schedule_left(checkpoint, trainer, path)
    return checkpoint


def check_schedule_left(checkpoint: dict, trainer: dict, path: str | Path) -> None:
    """Refuse a resume whose schedule the checkpoint has already run to its end: Lightning would
    train nothing and write no new checkpoint. Lightning's own rule (its fit loop's `done`): the
    steps taken reach max_steps, or the epochs processed reach max_epochs (None: 1000 without
    max_steps, else no limit)."""
    max_steps = trainer.get("max_steps")
    max_steps = -1 if max_steps is None else max_steps
    max_epochs = trainer.get("max_epochs")
    if max_epochs is None:
        max_epochs = 1000 if max_steps == -1 else -1
    steps, epochs = checkpoint.get("global_step", 0), _epochs_processed(checkpoint)
    if max_steps != -1 and steps >= max_steps or max_epochs != -1 and epochs >= max_epochs:
        raise ConfigError(f"resume_from: {path} has run {epochs} epochs ({steps} steps), the whole schedule of "
                          f"trainer.max_epochs={max_epochs}, trainer.max_steps={max_steps}: nothing left to train: "
                          "raise trainer.max_epochs/max_steps")
    check_fixed_length_schedule(checkpoint, trainer, path)


def check_fixed_length_schedule(checkpoint: dict, trainer: dict, path: str | Path) -> None:
    """A one-cycle rate is planned over the run's length when it starts (its total_steps, restored
    with it): a resume that lengthens the run would step past its end, so it is refused up front."""
    planned = [state.get("total_steps") for state in checkpoint.get("lr_schedulers") or []
               if isinstance(state, dict) and state.get("total_steps") is not None]
    saved = (checkpoint.get("config") or {}).get("trainer") or {}
    keys = ("max_epochs", "max_steps")
    if planned and isinstance(saved, dict) and any(saved.get(k) != trainer.get(k) for k in keys):
        raise ConfigError(f"resume_from: {path} trains under a rate schedule planned over {planned[0]} steps "
                          f"(trainer.max_epochs={saved.get('max_epochs')}, "
                          f"trainer.max_steps={saved.get('max_steps')}), "
                          "which cannot be lengthened: resume with those, or start a new training")


def _epochs_processed(checkpoint: dict) -> int:
    """Epochs the fit loop counts as processed (its restored state), or the checkpoint's epoch."""
    try:
        processed = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
    except (KeyError, TypeError):
        processed = None
    return processed if isinstance(processed, int) and not isinstance(processed, bool) else checkpoint.get("epoch", 0)


def checkpoint_sha256(path: Path) -> str:
    """The checkpoint file's content hash, which identifies the model version registered from it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
