"""Seed S0 (TensorFlow "Deep MNIST") and, with dropout 0.4, seed S3 (tf.layers): 3,274,634 parameters."""

from torch import nn

from .init import apply_init


class DeepCNN(nn.Sequential):
    def __init__(self, dropout: float = 0.5, num_classes: int = 10, init: str = "default"):
        super().__init__(
            nn.Conv2d(1, 32, kernel_size=5, padding="same"), nn.ReLU(),
            nn.MaxPool2d(2),  # 28x28 -> 14x14
            nn.Conv2d(32, 64, kernel_size=5, padding="same"), nn.ReLU(),
            nn.MaxPool2d(2),  # 14x14 -> 7x7
            nn.Flatten(),
            nn.Linear(7 * 7 * 64, 1024), nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(1024, num_classes),
        )
        apply_init(self, init)
