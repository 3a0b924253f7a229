"""Inference outside the training loop: logits with dropout off, batch by batch, and the network as
the served model and ONNX take it (uint8 pixels in, probabilities out)."""

from __future__ import annotations

import torch

from ..data.inputs import to_model_input

CHUNK = 1000  # images per forward pass: memory stays bounded whatever N is


def eval_logits(model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Logits with dropout off and no gradients; the model's train/eval mode is left as it was."""
    was_training = model.training
    try:
        model.eval()
    except NotImplementedError:  # a torch.export program's module: its mode was fixed at export
        was_training = False
    try:
        with torch.inference_mode():
            return model(inputs)
    finally:
        if was_training:
            model.train()


def batched_logits(model: torch.nn.Module, images: torch.Tensor, normalize: bool,
                   batch_size: int = CHUNK) -> torch.Tensor:
    """Logits for uint8 images [N, 28, 28], batch by batch."""
    return torch.cat([eval_logits(model, to_model_input(chunk, normalize)) for chunk in images.split(batch_size)])


class PixelsToProbabilities(torch.nn.Module):
    """uint8 [N, 28, 28] -> probabilities [N, classes], through the training-time input rule
    (data.inputs.to_model_input): what the ONNX file is exported from."""

    def __init__(self, network: torch.nn.Module, normalize: bool):
        super().__init__()
        self.network, self.normalize = network, normalize

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.network(to_model_input(pixels, self.normalize)).softmax(dim=1)

