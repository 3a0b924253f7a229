"""Seed S0 (TensorFlow "Deep MNIST") and, with dropout 0.4, seed S3 (tf.layers): 3,274,634 parameters."""

import torch
from torch import nn

from .init import apply_init


class DeepCNN(nn.Module):
    def __init__(self, dropout: float = 0.5, num_classes: int = 10, init: str = "default"):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=5, padding="same"), nn.ReLU(),
            nn.MaxPool2d(2),  # 28x28 -> 14x14
            nn.Conv2d(32, 64, kernel_size=5, padding="same"), nn.ReLU(),
            nn.MaxPool2d(2),  # 14x14 -> 7x7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(7 * 7 * 64, 1024), nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(1024, num_classes),
        )
        apply_init(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
