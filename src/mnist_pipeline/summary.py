"""The model summary users of seed S2 had from torchsummary: layer, output shape, parameters, sizes."""

from __future__ import annotations

from torch import nn
from torchinfo import summary


def model_summary(model: nn.Module) -> str:
    stats = summary(model, input_size=(1, 1, 28, 28), col_names=("output_size", "num_params"),
                    device="cpu", verbose=0)
    return str(stats)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
