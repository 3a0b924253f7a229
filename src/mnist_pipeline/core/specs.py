"""What a config or a checkpoint may name, and the arguments each named class may take.

Configs come from params.yaml and from checkpoints people share, and building a `_target_` runs it.
So a `_target_` is accepted only when it is exactly one of REGISTERED (a prefix would let an
attribute walk such as `mnist_pipeline.models.small_cnn.nn.Identity` through), and every argument
is checked against the class's signature and the ranges below before the class is imported, let
alone called: a file cannot run code, raise a traceback, or make the process exhaust memory.

Specs here are plain dicts and lists (core.config.to_plain turns OmegaConf nodes into them).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
from collections.abc import Callable, Iterator
from typing import Any

from .errors import ConfigError

# Exactly what may be built, and as what: the model zoo, the optimizers and scheduler the recipes
# use, and the callbacks the recipes configure.
REGISTERED: dict[str, str] = {
    "mnist_pipeline.models.SmallCNN": "model",
    "mnist_pipeline.models.DeepCNN": "model",
    "mnist_pipeline.models.FastCNN": "model",
    "mnist_pipeline.models.MLP": "model",
    "mnist_pipeline.models.TwoLayerNet": "model",
    "torch.optim.Adam": "optimizer",
    "torch.optim.SGD": "optimizer",
    "torch.optim.lr_scheduler.OneCycleLR": "scheduler",
    "mnist_pipeline.training.callbacks.StatusLine": "callback",
    "mnist_pipeline.training.callbacks.SplitAccuracy": "callback",
    "mnist_pipeline.training.callbacks.BatchProbabilities": "callback",
    "pytorch_lightning.callbacks.ModelCheckpoint": "callback",
}
# Keys a spec may hold besides its class's arguments (Hydra's; `_partial_` is how conf/ marks the
# optimizer and scheduler as waiting for their first argument).
SPEC_KEYS = {"_target_", "_partial_"}

MAX_CLASSES = 1000
# Widest hidden layer: the MLP's two hidden layers at this width hold 4096 x 4096 weights (64 MiB).
MAX_WIDTH = 4096
MAX_STEPS = 10**9
# Copy of models.init.INITS' names (core imports no model code); tests/core/test_specs.py proves them equal.
INIT_NAMES = ("default", "scratch_two_layer", "tf_deep_mnist", "tf_layers_default", "tf_mechanics101")
SPLITS = ("train", "val", "test")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(low: int, high: int) -> Callable[[Any], str | None]:
    def rule(value: Any) -> str | None:
        if not (isinstance(value, int) and not isinstance(value, bool)) or not low <= value <= high:
            return f"must be a whole number from {low} to {high:,}"
        return None
    return rule


def _real(low: float, high: float = math.inf, high_open: bool = False, low_open: bool = False):
    def rule(value: Any) -> str | None:
        if not _number(value) or value < low or (low_open and value == low) or value > high \
                or (high_open and value == high):
            return (f"must be a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
                    if high != math.inf else f"must be a number {'>' if low_open else '≥'} {low:g}")
        return None
    return rule


def _choice(options: tuple[str, ...]):
    def rule(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}"
    return rule


def _pair_in_unit(value: Any) -> str | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_number(v) and 0 <= v < 1 for v in value):
        return "must be two numbers in [0, 1)"
    return None


def _splits(value: Any) -> str | None:
    if not isinstance(value, (list, tuple)) or not value or not all(v in SPLITS for v in value):
        return f"must be a non-empty list of {', '.join(SPLITS)}"
    return None


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and len(value) <= 10_000 else "must be a string (at most 10,000 characters)"


# Arguments checked by name, whatever class takes them; the others by the type of their default.
NAMED_RULES: dict[str, Callable[[Any], str | None]] = {
    "dropout": _real(0, 1, high_open=True),
    "num_classes": _whole(1, MAX_CLASSES),
    "hidden": _whole(1, MAX_WIDTH),
    "hidden1": _whole(1, MAX_WIDTH),
    "hidden2": _whole(1, MAX_WIDTH),
    "init": _choice(INIT_NAMES),
    "lr": _real(0),  # 0 holds a model fixed (params.yaml asks more: optimizer.lr > 0)
    "max_lr": _real(0, low_open=True),
    "momentum": _real(0),
    "dampening": _real(0),
    "weight_decay": _real(0),
    "eps": _real(0),
    "betas": _pair_in_unit,
    "pct_start": _real(0, 1, low_open=True, high_open=True),
    "div_factor": _real(0, low_open=True),
    "final_div_factor": _real(0, low_open=True),
    "anneal_strategy": _choice(("cos", "linear")),
    "every_n_steps": _whole(1, MAX_STEPS),
    "every_n_train_steps": lambda v: None if v is None else _whole(0, MAX_STEPS)(v),
    "size": _whole(1, MAX_CLASSES),
    "splits": _splits,
    "template": _text,
}


def _by_default(default: Any) -> Callable[[Any], str | None]:
    """A rule from a parameter's default: same kind of value (a bool for a bool, a number for a
    number, ...); None or no default: any scalar."""
    if isinstance(default, bool):
        return lambda v: None if isinstance(v, bool) else "must be true or false"
    if isinstance(default, int):
        return _whole(-MAX_STEPS, MAX_STEPS)
    if isinstance(default, float):
        return lambda v: None if _number(v) else "must be a finite number"
    if isinstance(default, str):
        return lambda v: _text(v) if not isinstance(v, bool) else "must be a string"
    if isinstance(default, tuple):
        return lambda v: (None if isinstance(v, (list, tuple)) and len(v) == len(default) and all(map(_number, v))
                          else f"must be {len(default)} numbers")
    return lambda v: None if v is None or isinstance(v, (bool, int, float, str)) and _text(str(v)) is None \
        else "must be a single value (a number, true/false or a string)"


def suggestion(key: str, known: set[str], section: str) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean '{section + '.' if section else ''}{close[0]}'?)" if close else ""


def check_keyword_keys(spec: dict, key: str, accepted: set[str], source: str) -> None:
    """Refuse keys of `spec` that what it is passed to does not take."""
    for name in spec:
        if name not in accepted and name not in SPEC_KEYS:
            raise ConfigError(f"{source}: unknown key '{key}.{name}'{suggestion(str(name), accepted, key)}")


def targets(node: Any, path: str = "", source: str = "config", max_depth: int = 100) -> Iterator[tuple[str, Any]]:
    """(key path, value) of every `_target_` key in node, at any depth of dicts and lists; a tree
    deeper than max_depth is refused (it can only be a hostile file)."""
    stack = [(node, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > max_depth:
            raise ConfigError(f"{source}: '{where}' is nested more than {max_depth} levels deep")
        if isinstance(item, dict):  # children pushed last-first: found in the file's order
            if "_target_" in item:
                yield (f"{where}._target_" if where else "_target_"), item["_target_"]
            stack.extend((value, f"{where}.{name}" if where else str(name), depth + 1)
                         for name, value in reversed(item.items()) if name != "_target_")
        elif isinstance(item, (list, tuple)):
            stack.extend((value, f"{where}[{i}]", depth + 1) for i, value in reversed(list(enumerate(item))))


def check_targets(node: Any, source: str, path: str = "") -> None:
    """Every `_target_` anywhere in node (a whole checkpoint, a config) must be exactly a registered name."""
    for where, target in targets(node, path, source):
        if not isinstance(target, str) or target not in REGISTERED:
            raise ConfigError(f"{source}: '{where}' names {_short(target)}, which is not allowed "
                              "(only the model zoo's classes, the recipes' optimizers, scheduler and callbacks)")


def _resolve(target: str) -> type:
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


def check_target(spec: Any, key: str, source: str, kind: str | None = None) -> str:
    """spec's `_target_`, once it is exactly a registered name of the right kind (nothing imported)."""
    kind = kind or key
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: '{key}' must be a mapping with a '_target_', got {_short(spec)}")
    if "_target_" not in spec:
        raise ConfigError(f"{source}: missing key '{key}._target_'")
    check_targets({k: v for k, v in spec.items() if k != "_target_"}, source, key)
    for where, nested in targets({k: v for k, v in spec.items() if k != "_target_"}, key, source):
        raise ConfigError(f"{source}: '{where}' names {nested!r}: only '{key}._target_' may name something to build")
    target = spec["_target_"]
    if not isinstance(target, str) or target not in REGISTERED:
        allowed = ", ".join(name for name, k in REGISTERED.items() if k == kind)
        raise ConfigError(f"{source}: '{key}._target_' names {_short(target)}, which is not allowed (only {allowed})")
    if REGISTERED[target] != kind:
        raise ConfigError(f"{source}: '{key}._target_' names {target!r}, which is registered as "
                          f"{REGISTERED[target]}, not as {kind}")
    return target


def check_spec(spec: Any, key: str, source: str = "config", kind: str | None = None,
               supplied: tuple[str, ...] = ()) -> tuple[type, dict]:
    """The registered class `spec` names and its keyword arguments, every one checked against the
    class's signature and the rules above. `supplied`: arguments the caller passes itself (checked
    where it passes them), such as an optimizer's parameters or a model's num_classes."""
    target = check_target(spec, key, source, kind)
    if "_partial_" in spec and not isinstance(spec["_partial_"], bool):
        raise ConfigError(f"{source}: '{key}._partial_' must be true or false, got {_short(spec['_partial_'])}")
    cls = _resolve(target)
    parameters = {name: p for name, p in inspect.signature(cls).parameters.items()
                  if name not in supplied and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    check_keyword_keys(spec, key, set(parameters), source)
    arguments = {name: value for name, value in spec.items() if name not in SPEC_KEYS}
    for name, parameter in parameters.items():
        if name not in arguments:
            if parameter.default is inspect.Parameter.empty:
                raise ConfigError(f"{source}: missing key '{key}.{name}' ({target} needs it)")
            continue
        rule = NAMED_RULES.get(name) or _by_default(parameter.default)
        problem = rule(arguments[name])
        if problem:
            raise ConfigError(f"{source}: '{key}.{name}' {problem}, got {_short(arguments[name])}")
    return cls, arguments


def check_value(name: str, value: Any, key: str, source: str) -> None:
    """One argument the caller supplies (e.g. num_classes), checked by its rule."""
    problem = NAMED_RULES[name](value)
    if problem:
        raise ConfigError(f"{source}: '{key}' {problem}, got {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
