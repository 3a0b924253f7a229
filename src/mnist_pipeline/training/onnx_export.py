"""ONNX export of a trained network, taking what the registered model takes (uint8 pixels
[N, 28, 28], scaled inside) and giving class probabilities; and its parity with PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

CHUNK = 1000  # images per forward pass


class PixelsToProbabilities(torch.nn.Module):
    """uint8 [N, 28, 28] -> probabilities [N, classes], with the scaling the network was trained with."""

    def __init__(self, network: torch.nn.Module, normalize: bool):
        super().__init__()
        self.network, self.scale = network, 1 / 255 if normalize else 1.0

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.network(pixels.unsqueeze(1).float() * self.scale).softmax(dim=1)


def export_onnx(network: torch.nn.Module, normalize: bool, path: Path) -> None:
    """Write `network` (eval mode; a torch.export program's module works) as an ONNX file."""
    wrapped = PixelsToProbabilities(network, normalize)
    # Eval mode was captured when the program was exported; a program's module refuses .train(),
    # so only the wrapper's own flag is set.
    wrapped.training = False
    program = torch.onnx.export(wrapped, (torch.zeros(2, 28, 28, dtype=torch.uint8),), input_names=["pixels"],
                                output_names=["probabilities"], dynamic_shapes=({0: torch.export.Dim("batch")},),
                                dynamo=True, verbose=False)
    program.save(str(path))


def torch_probabilities(network: torch.nn.Module, images: torch.Tensor, normalize: bool) -> np.ndarray:
    wrapped = PixelsToProbabilities(network, normalize)
    with torch.inference_mode():
        return torch.cat([wrapped(chunk) for chunk in images.split(CHUNK)]).numpy()


def onnx_probabilities(path: Path, images: torch.Tensor) -> np.ndarray:
    """Probabilities from the ONNX file, run by onnxruntime on the CPU."""
    import onnxruntime  # imported here: only this command needs it

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"pixels": chunk.numpy()})[0] for chunk in images.split(CHUNK)])


def parity(expected: np.ndarray, actual: np.ndarray) -> dict:
    """How far ONNX's probabilities are from PyTorch's: the largest difference and the images
    whose predicted class differs."""
    return {"onnx_max_abs_diff": float(np.abs(expected - actual).max()),
            "onnx_argmax_mismatches": int((expected.argmax(axis=1) != actual.argmax(axis=1)).sum())}
