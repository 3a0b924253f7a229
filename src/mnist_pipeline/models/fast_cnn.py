"""The speed recipe's CNN (conv 5x5 24, conv 3x3 32, 256 hidden units: 215,194 parameters), the
shape of tuomaso/train_mnist_fast's network, which reaches 99% test accuracy in one epoch."""

import torch
from torch import nn


class FastCNN(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 24, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 24 -> 12
            nn.Conv2d(24, 32, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2),  # 12 -> 10 -> 5
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 5 * 5, 256), nn.ReLU(),
                                        nn.Linear(256, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
