"""Loading and checking the resolved configuration (params.yaml or a Hydra composition)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import ConfigError, first_line
from .project import project_root
from .specs import MAX_CLASSES, check_spec, check_target, check_targets, suggestion

# Arguments the pipeline passes itself, not the config: a model's number of classes (from
# data.classes), an optimizer's parameters, a scheduler's optimizer and run length.
MODEL_SUPPLIED = ("num_classes",)
OPTIMIZER_SUPPLIED = ("params",)
SCHEDULER_SUPPLIED = ("optimizer", "total_steps")

PARAMS_FILE = "params.yaml"
# Keys the stages read as they are, and the kind of value each must hold (the others are checked by
# range below, or against what they are passed to).
TYPED_KEYS: dict[str, type] = {
    "seed": int, "recipe": str, "data.split_seed": int, "data.normalize": bool, "data.sample_with_replacement": bool,
    "paths.raw": str, "paths.prepared": str, "paths.models": str, "paths.reports": str, "paths.checkpoints": str,
    "tracking.experiment_name": str, "tracking.registered_model_name": str,
}
MAX_SEED = 2**32 - 1  # numpy's and Lightning's seeds are 32-bit
FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def load_params(path: str | Path = PARAMS_FILE, source: str | None = None) -> DictConfig:
    """params.yaml as a DictConfig, validated; errors name `source` (default: the path)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found: run `python -m mnist_pipeline.params` to create it from conf/")
    try:
        cfg = OmegaConf.load(path)
    except Exception as err:  # not YAML, or YAML OmegaConf cannot hold
        raise ConfigError(f"{source or path}: not a readable YAML config ({str(err).splitlines()[0]})") from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{source or path}: expected a mapping of keys, got {type(cfg).__name__}")
    validate(cfg, source=source or str(path))
    return cfg


def to_plain(node: Any) -> Any:
    """Plain dicts and lists (no OmegaConf objects): safe for torch.load(weights_only=True) and JSON."""
    if isinstance(node, DictConfig) or OmegaConf.is_list(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def validate(cfg: DictConfig, source: str = "config") -> None:
    """Fail before any work starts, naming the offending key."""
    try:  # every interpolation resolved once: a broken `${...}` is named here, not mid-stage
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{source}: '{getattr(err, 'full_key', None) or '?'}' cannot be resolved "
                          f"({first_line(err)})") from None

    def select(key: str, default: Any = None) -> Any:
        try:
            return OmegaConf.select(cfg, key, default=default, throw_on_missing=False)
        except OmegaConfBaseException:  # a section on the way is a list or a value, not a mapping
            raise ConfigError(f"{source}: '{key}' cannot be read: a section above it is not a mapping") from None

    def get(key: str) -> Any:
        value = select(key)
        if value is None:
            raise ConfigError(f"{source}: missing key '{key}'")
        return value

    def positive(key: str, kind: type = float) -> None:
        value = get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{source}: '{key}' must be a positive number, got {value!r}")
        if kind is int and not float(value).is_integer():
            raise ConfigError(f"{source}: '{key}' must be a whole number, got {value!r}")

    if not str(get("data.name")).strip():
        raise ConfigError(f"{source}: 'data.name' is empty")
    mirrors = get("data.mirrors")
    if not isinstance(mirrors, Sequence) or isinstance(mirrors, str) or len(mirrors) == 0:
        raise ConfigError(f"{source}: 'data.mirrors' must be a non-empty list of URLs or folders, "
                          f"got {to_plain(mirrors)!r}")
    for key in FILE_KEYS:
        get(f"data.files.{key}.name")
        digest = str(get(f"data.files.{key}.sha256"))
        if not _SHA256.match(digest):
            raise ConfigError(f"{source}: 'data.files.{key}.sha256' must be 64 lowercase hex digits, got {digest!r}")
    positive("data.sizes.train", int)
    positive("data.sizes.test", int)
    positive("data.batch_size", int)
    val_size = get("data.val_size")
    if not isinstance(val_size, int) or not 0 < val_size < get("data.sizes.train"):
        raise ConfigError(f"{source}: 'data.val_size' must be between 1 and data.sizes.train - 1, got {val_size!r}")
    positive("optimizer.lr")
    for key, kind in TYPED_KEYS.items():
        value = get(key)
        if not isinstance(value, kind) or kind is int and (isinstance(value, bool) or not 0 <= value <= MAX_SEED):
            expected = {int: f"a whole number from 0 to {MAX_SEED}", str: "a string", bool: "true or false"}[kind]
            raise ConfigError(f"{source}: '{key}' must be {expected}, got {to_plain(value)!r:.60}")
    classes = to_plain(get("data.classes"))
    if not isinstance(classes, list) or not 0 < len(classes) <= MAX_CLASSES \
            or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
        raise ConfigError(f"{source}: 'data.classes' must be 1 to {MAX_CLASSES} distinct class names, "
                          f"got {classes!r:.60}")
    if not isinstance(cfg.get("trainer"), DictConfig):
        raise ConfigError(f"{source}: 'trainer' must be a mapping of Lightning Trainer arguments")
    if "callbacks" not in cfg or not isinstance(cfg.callbacks, (DictConfig, type(None))):
        raise ConfigError(f"{source}: 'callbacks' must be a mapping (may be {{}})")
    level = select("tracking.champion_significance", default=0.05)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ConfigError(f"{source}: 'tracking.champion_significance' must be a level between 0 and 1 (exclusive), "
                          f"got {level!r}")
    max_steps = select("trainer.max_steps")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int)):
        raise ConfigError(f"{source}: 'trainer.max_steps' must be a whole number (-1: no limit), got {max_steps!r}")
    if (max_steps or -1) <= 0:  # step-based recipes set max_epochs: -1
        positive("trainer.max_epochs", int)
    if select("eval_checkpoint") not in ("best", "last"):
        raise ConfigError(f"{source}: 'eval_checkpoint' must be best or last, got {cfg.get('eval_checkpoint')!r}")
    check_specs(to_plain(cfg), source)
    check_known_keys(cfg, source)


def check_specs(config: dict, source: str) -> None:
    """Every `_target_` in the config exactly a registered name; the model's, optimizer's and
    scheduler's arguments checked against their signatures and ranges (the callbacks' are checked
    where they are built: training imports Lightning, evaluate and predict must not)."""
    check_targets({k: v for k, v in config.items() if k != "hydra"}, source)
    check_spec(config.get("model"), "model", source, supplied=MODEL_SUPPLIED)
    check_spec(config.get("optimizer"), "optimizer", source, supplied=OPTIMIZER_SUPPLIED)
    if config.get("scheduler") is not None:
        check_spec(config["scheduler"], "scheduler", source, supplied=SCHEDULER_SUPPLIED)
    callbacks = config.get("callbacks") or {}
    if not isinstance(callbacks, dict):
        raise ConfigError(f"{source}: 'callbacks' must be a mapping of names to callbacks")
    for name, spec in callbacks.items():
        check_target(spec, f"callbacks.{name}", source, kind="callback")


# Sections whose keys conf/ defines; trainer, model and optimizer keys are checked against what
# they are passed to (training.builders), callbacks and reported are free-form.
CHECKED_SECTIONS = ("data", "tracking", "paths")


def check_known_keys(cfg: DictConfig, source: str, conf: Path | None = None) -> None:
    """Refuse keys that no file in conf/ defines (a typo would otherwise be silently ignored)."""
    conf = conf or project_root() / "conf"
    if not conf.is_dir():
        return
    known = known_keys(conf)
    plain = to_plain(cfg)
    for section in ("", *CHECKED_SECTIONS):
        values = plain if not section else plain.get(section) or {}
        for key in values:
            allowed = known.get(section, set())
            if key not in allowed:
                name = f"{section}.{key}" if section else key
                raise ConfigError(f"{source}: unknown key '{name}'{suggestion(key, allowed, section)}")


def known_keys(conf: Path) -> dict[str, set[str]]:
    """section -> the keys conf/'s files define in it ('' for the top level)."""
    sections: dict[str, set[str]] = {"": {"hydra"}}  # Hydra's own node, in a composition that asks for it
    for file in sorted(conf.rglob("*.yaml")):
        if file.relative_to(conf).parts[0] == "hydra":  # Hydra's own settings (launchers), not the app's
            continue
        text = file.read_text()
        content = yaml.safe_load(text) or {}
        if file.parent == conf or "@package _global_" in text:
            for key, value in content.items():
                if key not in ("defaults", "hydra"):
                    sections[""].add(key)
                    if isinstance(value, dict):
                        sections.setdefault(key, set()).update(value)
        else:
            sections[""].add(file.parent.name)
            sections.setdefault(file.parent.name, set()).update(k for k in content if k != "defaults")
    return sections
