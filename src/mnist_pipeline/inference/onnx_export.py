"""ONNX export of a trained network, taking what the registered model takes (uint8 pixels
[N, 28, 28], scaled inside) and giving class probabilities; and its parity with the training-time
scoring path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .logits import CHUNK, PixelsToProbabilities, batched_logits


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
    """Probabilities through the path evaluate scores with (batched_logits), not through the exported
    wrapper, so a drift between the two input rules shows up as a parity failure."""
    return batched_logits(network, images, normalize).softmax(dim=1).numpy()


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
