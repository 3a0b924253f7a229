"""Weight initialisations of the seed tutorials, selectable per model with `init=<name>`."""

from __future__ import annotations

from torch import nn


def _tf_deep_mnist(layer: nn.Module) -> None:
    # Seed S0: weights truncated normal (sd 0.1, cut at 2 sd as TensorFlow does), biases 0.1.
    nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
    nn.init.constant_(layer.bias, 0.1)


INITS = {
    "default": None,  # PyTorch's own (Kaiming-uniform)
    "tf_deep_mnist": _tf_deep_mnist,
}


def apply_init(model: nn.Module, name: str) -> None:
    """Re-initialise every Conv2d and Linear layer of `model` with the named scheme."""
    if name not in INITS:
        raise ValueError(f"unknown init {name!r}; choose one of {sorted(INITS)}")
    init = INITS[name]
    if init is None:
        return
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            init(layer)
