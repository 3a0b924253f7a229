"""Weight initialisations of the seed tutorials, selectable per model with `init=<name>`."""

from __future__ import annotations

import math

from torch import nn


def _tf_deep_mnist(layer: nn.Module) -> None:
    # Seed S0: weights truncated normal (sd 0.1, cut at 2 sd as TensorFlow does), biases 0.1.
    nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
    nn.init.constant_(layer.bias, 0.1)


def _tf_mechanics101(layer: nn.Module) -> None:
    # Seed S1: weights truncated normal with sd 1/sqrt(fan_in), biases zero.
    std = 1.0 / math.sqrt(nn.init._calculate_fan_in_and_fan_out(layer.weight)[0])
    nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
    nn.init.zeros_(layer.bias)


def _tf_layers_default(layer: nn.Module) -> None:
    # Seed S3: tf.layers' default initializers, kernels Glorot-uniform (TensorFlow counts a
    # convolution's fans as kernel area x channels, as PyTorch does) and biases zero. PyTorch's own
    # default (Kaiming-uniform, biases uniform) is another scale altogether.
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)


def _scratch_two_layer(layer: nn.Module) -> None:
    # Seed S4: weights 0.01 * N(0, 1), biases zero.
    nn.init.normal_(layer.weight, std=0.01)
    nn.init.zeros_(layer.bias)


INITS = {
    "default": None,  # PyTorch's own (Kaiming-uniform)
    "tf_deep_mnist": _tf_deep_mnist,
    "tf_mechanics101": _tf_mechanics101,
    "tf_layers_default": _tf_layers_default,
    "scratch_two_layer": _scratch_two_layer,
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
