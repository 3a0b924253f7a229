"""Seed S4 ("Deep Learning from Scratch" TwoLayerNet): Affine -> ReLU -> Affine (39,760 parameters).

The seed's hand-written forward/backward passes are autograd here; SoftmaxWithLoss is the
LightningModule's cross-entropy."""

import torch
from torch import nn

from .init import apply_init


class TwoLayerNet(nn.Module):
    def __init__(self, hidden: int = 50, num_classes: int = 10, init: str = "default"):
        super().__init__()
        self.affine1 = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, hidden))
        self.relu = nn.ReLU()
        self.affine2 = nn.Linear(hidden, num_classes)
        apply_init(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.affine2(self.relu(self.affine1(x)))
