"""A network from its config spec, after every argument has been checked (core.specs)."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..core.config import MODEL_SUPPLIED, to_plain
from ..core.errors import ConfigError, first_line
from ..core.specs import check_spec, check_value


def build_model(spec: Any, num_classes: int, source: str = "config", key: str = "model") -> nn.Module:
    cls, arguments = check_spec(to_plain(spec), key, source, kind="model", supplied=MODEL_SUPPLIED)
    check_value("num_classes", num_classes, "num_classes", source)
    try:
        return cls(**arguments, num_classes=num_classes)
    except (ValueError, TypeError, RuntimeError) as err:  # a combination the rules above let through
        raise ConfigError(f"{source}: '{key}' cannot be built ({first_line(err)})") from None
