"""What a run trains and on what: the model summary users of seed S2 had from torchsummary (layer,
output shape, parameters, sizes), its parameter count, and the hardware."""

from __future__ import annotations

import os

import pytorch_lightning as pl
import torch
from torch import nn
from torchinfo import summary


def model_summary(model: nn.Module) -> str:
    stats = summary(model, input_size=(1, 1, 28, 28), col_names=("output_size", "num_params"),
                    device="cpu", verbose=0)
    return str(stats)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def hardware(trainer: pl.Trainer) -> str:
    device = trainer.strategy.root_device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    return f"{trainer.world_size} processes, each {name}" if trainer.world_size > 1 else name
