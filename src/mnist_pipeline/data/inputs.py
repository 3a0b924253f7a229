"""What models take: uint8 images [N, 28, 28] become float [N, 1, 28, 28]."""

from __future__ import annotations

import torch


def to_model_input(images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float [N, 1, 28, 28], scaled to [0, 1] unless normalize is false
    (seed S4's bug: raw 0-255 pixels)."""
    x = images.unsqueeze(1).float()
    return x / 255.0 if normalize else x
