"""Seed S2: the PyTorch blog CNN, layer for layer (55,338 trainable parameters)."""

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, dropout: float = 0.3, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2, padding=1),  # 26x26 -> 14x14
        )
        self.conv2 = nn.Sequential(
            nn.Conv2d(16, 32, kernel_size=3), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2, padding=1),  # 12x12 -> 7x7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(1, -1),
            nn.Linear(7 * 7 * 32, 32), nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(32, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.conv2(self.conv1(x)))
