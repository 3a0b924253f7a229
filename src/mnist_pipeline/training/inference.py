"""Inference outside the training loop: logits with dropout off, batch by batch."""

from __future__ import annotations

import torch

from ..data.inputs import to_model_input


def eval_logits(model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Logits with dropout off and no gradients; the model's train/eval mode is left as it was."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return model(inputs)
    finally:
        model.train(was_training)


def batched_logits(model: torch.nn.Module, images: torch.Tensor, normalize: bool,
                   batch_size: int = 1000) -> torch.Tensor:
    """Logits for uint8 images [N, 28, 28], batch by batch."""
    return torch.cat([eval_logits(model, to_model_input(chunk, normalize)) for chunk in images.split(batch_size)])
