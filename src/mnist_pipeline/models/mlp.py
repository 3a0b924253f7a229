"""Seed S1 (TensorFlow "Mechanics 101"): 784 -> hidden1 -> hidden2 -> 10 with ReLU (104,938 parameters)."""

import torch
from torch import nn

from .init import apply_init


class MLP(nn.Module):
    def __init__(self, hidden1: int = 128, hidden2: int = 32, num_classes: int = 10, init: str = "default"):
        super().__init__()
        # One block per TensorFlow name scope of the seed: hidden1, hidden2, softmax_linear.
        self.hidden1 = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, hidden1), nn.ReLU())
        self.hidden2 = nn.Sequential(nn.Linear(hidden1, hidden2), nn.ReLU())
        self.softmax_linear = nn.Linear(hidden2, num_classes)
        apply_init(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.softmax_linear(self.hidden2(self.hidden1(x)))
