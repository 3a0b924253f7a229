"""A network from its config spec, after the spec has been checked against the allow-list."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..core.config import checked_class, spec_keywords


def build_model(spec: Any, num_classes: int, source: str = "config") -> nn.Module:
    cls, spec = checked_class(spec, "model", source)
    return cls(**spec_keywords(spec), num_classes=num_classes)
