"""The registered model as users call it: MNIST pixels in, class names and probabilities out.

MLflow logs this file as the model's code ("models from code") and runs it whenever the model is
loaded or served, so it imports nothing from this project but request_log.py, which is logged beside
it as the model's code: the network itself is a torch.export program, an artifact beside it, and
needs no model class to load. When MNIST_REQUEST_LOG names a file, every prediction is appended to
that request log (see request_log.py).

In: pixels [N, 28, 28], whole numbers 0-255 (uint8 from Python, numbers in JSON), a light digit on
a dark background as in MNIST (the scaling the network was trained with happens here). The logged
signature declares no input schema on purpose: MLflow would cast JSON to its dtype before this model
sees it (127.5 would become 127); check_pixels is the input rule. Out: one row per image, `label` (the class name) and
`probabilities` (one per class, in the order of the model's classes).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel


def _request_log_module():
    """request_log.py: the project's, or the logged model's copy (its code_paths, on sys.path when
    MLflow loads the model), or the file beside this one (MLflow runs this file alone while logging it)."""
    try:
        from . import request_log
        return request_log
    except ImportError:
        pass
    try:
        import request_log
        return request_log
    except ImportError:
        spec = importlib.util.spec_from_file_location("request_log", Path(__file__).with_name("request_log.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


request_log = _request_log_module()

EXPECTED = "expected pixels [N, 28, 28]: whole numbers 0-255 (light digit on dark, as in MNIST)"
# Copies of inference.logits.CHUNK and data.inputs.to_model_input (this file imports nothing from the
# project); tests/inference/test_served_model.py proves them equal.
CHUNK = 1000  # images per forward pass: memory stays bounded whatever N is
# Set by whoever serves the model: the request log's name for it ("mnist-classifier/3") and the log's
# name for the caller ("scoring" for the HTTP endpoint, "demo" for the drawing page).
MODEL_ENV, SOURCE_ENV = "MNIST_SERVED_MODEL", "MNIST_REQUEST_SOURCE"


def to_model_input(images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    x = images.unsqueeze(1).float()
    return x / 255.0 if normalize else x


class InputError(MlflowException):
    """Input that cannot be a batch of MNIST images (an MlflowException, so that the scoring server
    answers 400 with this message rather than a generic error)."""

    def __init__(self, message: str):
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


def check_pixels(pixels) -> np.ndarray:
    """uint8 [N, 28, 28] from what a caller sent, or an InputError saying what is expected.

    Whole numbers 0-255 of any numeric type are taken (JSON sends numbers, not uint8), so are
    [N, 1, 28, 28] arrays; anything else is refused, never rounded or cast: 127.5 is not a pixel.
    An image whose pixels are all 0 or 1 is refused too: that is what floats scaled to [0, 1]
    look like, and it would otherwise be classified silently."""
    try:
        pixels = np.asarray(pixels)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise InputError(f"not an array ({err}); {EXPECTED}") from None
    if pixels.ndim == 4 and pixels.shape[1] == 1:
        pixels = pixels[:, 0]
    if pixels.ndim != 3 or pixels.shape[1:] != (28, 28) or len(pixels) == 0:
        raise InputError(f"got an array of shape {list(pixels.shape)}; {EXPECTED}")
    if pixels.dtype.kind not in "uif":
        raise InputError(f"got {pixels.dtype} values; {EXPECTED}")
    if pixels.dtype.kind == "f":
        fractional = ~np.isfinite(pixels) | (pixels != np.round(pixels))
        if fractional.any():
            raise InputError(f"got {pixels[fractional].flat[0].item()!r}, which is not a whole number; {EXPECTED}")
    if pixels.min() < 0 or pixels.max() > 255:
        raise InputError(f"got values from {pixels.min():g} to {pixels.max():g}; {EXPECTED}")
    faint = np.flatnonzero(pixels.reshape(len(pixels), -1).max(axis=1) <= 1)
    if len(faint):
        raise InputError(f"image {faint[0]} has no pixel above 1 (blank, or scaled to [0, 1]); {EXPECTED}")
    return pixels.astype(np.uint8)


class DigitClassifier(PythonModel):
    def load_context(self, context) -> None:
        self.network = torch.export.load(context.artifacts["network"]).module()
        spec = json.loads(Path(context.artifacts["classes"]).read_text())
        self.classes, self.normalize = spec["classes"], spec["normalize"]
        self.log = request_log.log_path()
        self.identity = os.environ.get(MODEL_ENV) or self._run_of(Path(context.artifacts["network"]).parents[1])

    @staticmethod
    def _run_of(model_dir: Path) -> str:
        """What the request log calls this model when the server does not say (MNIST_SERVED_MODEL):
        the run it was logged from."""
        try:
            return f"run {mlflow.models.Model.load(str(model_dir / 'MLmodel')).run_id}"
        except Exception:  # a copy without its MLmodel file still serves
            return "unknown"

    # np.ndarray: what MLflow passes on (a hint it infers no schema from and validates nothing against,
    # so check_pixels stays the input rule); any hint stops its "add type hints" warning.
    def predict(self, context, model_input: np.ndarray, params=None) -> pd.DataFrame:
        pixels = torch.from_numpy(check_pixels(model_input))
        probabilities = []
        with torch.inference_mode():
            for chunk in pixels.split(CHUNK):
                probabilities.append(self.network(to_model_input(chunk, self.normalize)).softmax(dim=1))
        probs = torch.cat(probabilities).double().numpy()
        labels = [self.classes[i] for i in probs.argmax(axis=1)]
        if getattr(self, "log", None):
            request_log.record(self.log, pixels.numpy(), labels, probs.max(axis=1), self.identity,
                               source=os.environ.get(SOURCE_ENV, "scoring"))
        return pd.DataFrame({"label": labels, "probabilities": [row.tolist() for row in probs]})


mlflow.models.set_model(DigitClassifier())
