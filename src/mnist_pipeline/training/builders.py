"""Building optimizers, schedulers and callbacks from config, and checking the Trainer's keys; only
what core.specs.REGISTERED names is built, with arguments checked there: configs come from
params.yaml and from checkpoints people share.

Classes are called directly with the config's keys (no Hydra instantiate), so nothing a config
names beyond its one checked `_target_` is ever imported or called."""

from __future__ import annotations

import inspect
from functools import partial
from typing import TYPE_CHECKING, Any

import torch

from ..core.config import OPTIMIZER_SUPPLIED, SCHEDULER_SUPPLIED, to_plain
from ..core.errors import ConfigError, first_line
from ..core.specs import check_keyword_keys, check_spec

if TYPE_CHECKING:
    import pytorch_lightning as pl


def optimizer_factory(spec: Any, source: str = "config") -> partial:
    """The optimizer class with its settings, waiting for the parameters."""
    cls, arguments = check_spec(to_plain(spec), "optimizer", source, supplied=OPTIMIZER_SUPPLIED)
    return partial(cls, **arguments)


def scheduler_factory(spec: Any, source: str = "config") -> partial:
    """The learning-rate scheduler class with its settings, waiting for the optimizer (and, for one
    that asks for it, total_steps)."""
    cls, arguments = check_spec(to_plain(spec), "scheduler", source, supplied=SCHEDULER_SUPPLIED)
    return partial(cls, **arguments)


def build_callbacks(specs: Any, source: str = "config") -> list[pl.Callback]:
    """The extra callbacks under `callbacks:`, each {name: {_target_: ..., ...}}."""
    built = []
    for name, spec in (to_plain(specs) or {}).items():
        cls, arguments = check_spec(spec, f"callbacks.{name}", source, kind="callback")
        built.append(_built(f"callbacks.{name}", source, cls, **arguments))
    return built


def _built(key: str, source: str, make, *args, **kwargs):
    """make(...), with a constructor's own refusal (a combination of values each rule allowed,
    such as SGD's nesterov without momentum) as one line naming the key."""
    try:
        return make(*args, **kwargs)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{source}: '{key}' cannot be built ({first_line(err)})") from None


def check_trainer_keys(trainer: Any, source: str = "config") -> None:
    """Refuse `trainer.*` keys that lightning.Trainer does not take (a typo is otherwise a TypeError
    after the run has started)."""
    import pytorch_lightning as pl  # here: evaluate and predict build models without Lightning

    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    check_keyword_keys(to_plain(trainer), "trainer", accepted, source)


def check_training_config(cfg: Any, source: str = "config") -> None:
    """Everything train builds from cfg, checked before any of it is built: the optimizer and
    scheduler are tried on a one-element parameter, so a combination their constructors refuse
    is named before the run starts."""
    from ..models.build import build_model

    build_model(cfg.model, len(cfg.data.classes), source)
    optimizer = _built("optimizer", source, optimizer_factory(cfg.optimizer, source),
                       [torch.zeros(1, requires_grad=True)])
    if cfg.get("scheduler") is not None:
        make = scheduler_factory(cfg.scheduler, source)
        extra = {"total_steps": 100} if "total_steps" in inspect.signature(make.func).parameters else {}
        _built("scheduler", source, make, optimizer, **extra)
    for name, spec in (to_plain(cfg.callbacks) or {}).items():
        check_spec(spec, f"callbacks.{name}", source, kind="callback")
    check_trainer_keys(cfg.trainer, source)
