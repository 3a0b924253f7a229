"""The Model Registry: one version per checkpoint file, the champion alias, moved only to a better
version, and the registered model's accuracy as a user loads it back."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from ..core.errors import PipelineError
from ..inference import request_log, served_model
from . import CHAMPION

CHECKPOINT_TAG = "checkpoint_sha256"  # the content hash of the checkpoint file a version was logged from
# What the logged model takes; versions logged before it took raw pixels (float [N, 1, 28, 28] in,
# logits out) lack this tag and are never reused for a checkpoint evaluated again.
INPUT_TAG, INPUT = "input", "uint8 [N, 28, 28]"
NETWORK_ARTIFACT = "network.pt2"  # the torch.export program inside a logged model's artifacts/


def log_model(network: torch.nn.Module, classes: list[str], normalize: bool, example: torch.Tensor):
    """Log the served model (served_model.py: uint8 pixels in, class names and probabilities out)
    to the active run; returns MLflow's ModelInfo. `example` is a few uint8 [N, 28, 28] images."""
    batch = ({0: torch.export.Dim.DYNAMIC},)  # any batch size
    program = torch.export.export(network.eval(), (torch.zeros(2, 1, 28, 28),), dynamic_shapes=batch)
    example = example.numpy()
    with tempfile.TemporaryDirectory() as folder:
        network_file, classes_file = Path(folder) / NETWORK_ARTIFACT, Path(folder) / "classes.json"
        torch.export.save(program, network_file)
        classes_file.write_text(json.dumps({"classes": list(classes), "normalize": bool(normalize)}))
        output = served_model.DigitClassifier()
        output.network, output.classes, output.normalize = program.module(), list(classes), normalize
        signature = infer_signature(example, output.predict(None, example))
        return mlflow.pyfunc.log_model(
            name="model", python_model=served_model.__file__, signature=signature, input_example=example,
            artifacts={"network": str(network_file), "classes": str(classes_file)},
            code_paths=[request_log.__file__],  # the served model imports it wherever it is loaded
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}",
                              f"numpy=={np.__version__}", "pandas"],
        )


def checkpoint_version(client: MlflowClient, model_name: str, checkpoint_sha256: str) -> str | None:
    """The version already registered from this checkpoint file, if any."""
    found = client.search_model_versions(f"name = '{model_name}' and tags.{CHECKPOINT_TAG} = '{checkpoint_sha256}' "
                                         f"and tags.{INPUT_TAG} = '{INPUT}'")
    return str(found[0].version) if found else None


def register(model_uri: str, model_name: str, checkpoint_sha256: str) -> str:
    """A new version of the logged model, tagged with its checkpoint's hash as it is created."""
    tags = {CHECKPOINT_TAG: checkpoint_sha256, INPUT_TAG: INPUT}
    return str(mlflow.register_model(model_uri, model_name, tags=tags).version)


def _champion(client: MlflowClient, model_name: str):
    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def champion_accuracy(client: MlflowClient, model_name: str) -> float | None:
    """Test accuracy recorded on the version that holds the champion alias, if any."""
    return _recorded_accuracy(_champion(client, model_name))


def _recorded_accuracy(version) -> float | None:
    value = version.tags.get("test_acc") if version else None
    return float(value) if value is not None else None


def promote_if_better(client: MlflowClient, model_name: str, version: str, test_acc: float,
                      min_accuracy: float) -> bool:
    """Move `champion` to this version if it passes the minimum and beats the current champion;
    returns whether this version is the champion (it may already have been)."""
    client.set_model_version_tag(model_name, version, "test_acc", repr(float(test_acc)))
    holder = _champion(client, model_name)
    if holder is not None and str(holder.version) == str(version):
        return True
    current = _recorded_accuracy(holder)
    if test_acc < min_accuracy or (current is not None and test_acc <= current):
        return False
    client.set_registered_model_alias(model_name, CHAMPION, version)
    return True


def registry_accuracy(model_uri: str, images: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> float:
    """Test accuracy of the model as a user loads it back from the registry: uint8 pixels in,
    class names out."""
    model = mlflow.pyfunc.load_model(model_uri)
    predicted = np.concatenate([model.predict(chunk.numpy())["label"].to_numpy() for chunk in images.split(1000)])
    return float((predicted == np.asarray(classes)[labels.numpy()]).mean())


def find_version(client: MlflowClient, model_name: str, version_or_alias: str):
    """A registered version by number (`3`) or alias (`champion`)."""
    try:
        if version_or_alias.isdigit():
            return client.get_model_version(model_name, version_or_alias)
        return client.get_model_version_by_alias(model_name, version_or_alias)
    except MlflowException:
        raise PipelineError(f"registered model '{model_name}' has no version or alias '{version_or_alias}' "
                            "(run evaluate to register one)") from None


def load_network(model_name: str, version: str, folder: Path) -> tuple[torch.nn.Module, dict]:
    """A registered version's network (its torch.export program) and its classes and input scaling,
    downloaded into `folder`."""
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{model_name}/{version}", dst_path=str(folder)))
    network, classes = local / "artifacts" / NETWORK_ARTIFACT, local / "artifacts" / "classes.json"
    if not network.is_file() or not classes.is_file():
        raise PipelineError(f"{model_name} v{version} has no artifacts/{NETWORK_ARTIFACT} and classes.json: it was "
                            "logged by an older version of this project; evaluate its checkpoint again")
    return torch.export.load(network).module(), json.loads(classes.read_text())
