"""Building models, optimizers, callbacks and the Trainer from config, and only what the allow-list
(core.config.BUILDABLE) permits: configs come from params.yaml and from checkpoints people share.

Classes are called directly with the config's keys (no Hydra instantiate), so nothing a config
names beyond its one checked `_target_` is ever imported or called."""

from __future__ import annotations

import inspect
from functools import partial
from typing import TYPE_CHECKING, Any

from torch import nn

from ..core.config import check_buildable, check_keyword_keys, to_plain

if TYPE_CHECKING:
    import pytorch_lightning as pl


def _keywords(spec: dict) -> dict[str, Any]:
    return {key: value for key, value in spec.items() if not key.startswith("_")}


def _checked(spec: Any, key: str, source: str, kind: str | None = None, skip: int = 0) -> tuple[type, dict]:
    """The allowed class and the plain spec; refuses keys its constructor does not take (the
    first `skip` positional parameters, such as an optimizer's params, are the caller's)."""
    cls = check_buildable(spec, key, source, kind)
    spec = to_plain(spec)
    parameters = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        check_keyword_keys(spec, key, set(list(parameters)[skip:]), source)
    return cls, spec


def build_model(spec: Any, num_classes: int, source: str = "config") -> nn.Module:
    cls, spec = _checked(spec, "model", source)
    return cls(**_keywords(spec), num_classes=num_classes)


def optimizer_factory(spec: Any, source: str = "config") -> partial:
    """The optimizer class with its settings, waiting for the parameters."""
    cls, spec = _checked(spec, "optimizer", source, skip=1)
    return partial(cls, **_keywords(spec))


def scheduler_factory(spec: Any, source: str = "config") -> partial:
    """The learning-rate scheduler class with its settings, waiting for the optimizer (and, for one
    that asks for it, total_steps)."""
    cls, spec = _checked(spec, "scheduler", source, skip=1)
    return partial(cls, **_keywords(spec))


def build_callbacks(specs: Any, source: str = "config") -> list[pl.Callback]:
    """The extra callbacks under `callbacks:`, each {name: {_target_: ..., ...}}."""
    built = []
    for name, spec in (to_plain(specs) or {}).items():
        cls, spec = _checked(spec, f"callbacks.{name}", source, kind="callback")
        built.append(cls(**_keywords(spec)))
    return built


def check_trainer_keys(trainer: Any, source: str = "config") -> None:
    """Refuse `trainer.*` keys that lightning.Trainer does not take (a typo is otherwise a TypeError
    after the run has started)."""
    import pytorch_lightning as pl  # here: evaluate and predict build models without Lightning

    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    check_keyword_keys(to_plain(trainer), "trainer", accepted, source)


def check_training_config(cfg: Any, source: str = "config") -> None:
    """Everything train builds from cfg, checked before any of it is built."""
    _checked(cfg.model, "model", source)
    _checked(cfg.optimizer, "optimizer", source, skip=1)
    if cfg.get("scheduler") is not None:
        _checked(cfg.scheduler, "scheduler", source, skip=1)
    for name, spec in (to_plain(cfg.callbacks) or {}).items():
        _checked(spec, f"callbacks.{name}", source, kind="callback")
    check_trainer_keys(cfg.trainer, source)
