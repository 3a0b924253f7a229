"""Building optimizers, schedulers and callbacks from config, and checking the Trainer's keys; only
what the allow-list (core.config.BUILDABLE) permits is built: configs come from params.yaml and
from checkpoints people share.

Classes are called directly with the config's keys (no Hydra instantiate), so nothing a config
names beyond its one checked `_target_` is ever imported or called."""

from __future__ import annotations

import inspect
from functools import partial
from typing import TYPE_CHECKING, Any

from ..core.config import check_keyword_keys, checked_class, spec_keywords, to_plain

if TYPE_CHECKING:
    import pytorch_lightning as pl


def optimizer_factory(spec: Any, source: str = "config") -> partial:
    """The optimizer class with its settings, waiting for the parameters."""
    cls, spec = checked_class(spec, "optimizer", source, skip=1)
    return partial(cls, **spec_keywords(spec))


def scheduler_factory(spec: Any, source: str = "config") -> partial:
    """The learning-rate scheduler class with its settings, waiting for the optimizer (and, for one
    that asks for it, total_steps)."""
    cls, spec = checked_class(spec, "scheduler", source, skip=1)
    return partial(cls, **spec_keywords(spec))


def build_callbacks(specs: Any, source: str = "config") -> list[pl.Callback]:
    """The extra callbacks under `callbacks:`, each {name: {_target_: ..., ...}}."""
    built = []
    for name, spec in (to_plain(specs) or {}).items():
        cls, spec = checked_class(spec, f"callbacks.{name}", source, kind="callback")
        built.append(cls(**spec_keywords(spec)))
    return built


def check_trainer_keys(trainer: Any, source: str = "config") -> None:
    """Refuse `trainer.*` keys that lightning.Trainer does not take (a typo is otherwise a TypeError
    after the run has started)."""
    import pytorch_lightning as pl  # here: evaluate and predict build models without Lightning

    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    check_keyword_keys(to_plain(trainer), "trainer", accepted, source)


def check_training_config(cfg: Any, source: str = "config") -> None:
    """Everything train builds from cfg, checked before any of it is built."""
    checked_class(cfg.model, "model", source)
    checked_class(cfg.optimizer, "optimizer", source, skip=1)
    if cfg.get("scheduler") is not None:
        checked_class(cfg.scheduler, "scheduler", source, skip=1)
    for name, spec in (to_plain(cfg.callbacks) or {}).items():
        checked_class(spec, f"callbacks.{name}", source, kind="callback")
    check_trainer_keys(cfg.trainer, source)
