"""Loading and checking the resolved configuration (params.yaml or a Hydra composition)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .errors import ConfigError

PARAMS_FILE = "params.yaml"
FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def load_params(path: str | Path = PARAMS_FILE) -> DictConfig:
    """params.yaml as a DictConfig, validated."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found: run `python -m mnist_pipeline.params` to create it from conf/")
    cfg = OmegaConf.load(path)
    validate(cfg, source=str(path))
    return cfg


def to_plain(node: Any) -> Any:
    """Plain dicts and lists (no OmegaConf objects): safe for torch.load(weights_only=True) and JSON."""
    if isinstance(node, DictConfig) or OmegaConf.is_list(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def validate(cfg: DictConfig, source: str = "config") -> None:
    """Fail before any work starts, naming the offending key."""

    def get(key: str) -> Any:
        value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
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
    if isinstance(mirrors, str) or len(mirrors) == 0:
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
    if (OmegaConf.select(cfg, "trainer.max_steps") or -1) <= 0:  # step-based recipes set max_epochs: -1
        positive("trainer.max_epochs", int)
    if OmegaConf.select(cfg, "eval_checkpoint") not in ("best", "last"):
        raise ConfigError(f"{source}: 'eval_checkpoint' must be best or last, got {cfg.get('eval_checkpoint')!r}")
    _check_target(cfg, "model._target_", source)
    _check_target(cfg, "optimizer._target_", source)


def _check_target(cfg: DictConfig, key: str, source: str) -> None:
    from hydra.utils import get_object

    target = OmegaConf.select(cfg, key)
    if not target:
        raise ConfigError(f"{source}: missing key '{key}'")
    try:
        get_object(target)
    except Exception as err:  # hydra raises ImportError or ValueError variants
        raise ConfigError(f"{source}: '{key}' names {target!r}, which cannot be imported ({err})") from None
