"""The Model Registry: one version per checkpoint file, the champion alias, moved only to a better
version, and the registered model's accuracy as a user loads it back."""

from __future__ import annotations

import mlflow
import numpy as np
import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ..data.inputs import to_model_input

CHAMPION = "champion"
CHECKPOINT_TAG = "checkpoint_sha256"  # the content hash of the checkpoint file a version was logged from


def checkpoint_version(client: MlflowClient, model_name: str, checkpoint_sha256: str) -> str | None:
    """The version already registered from this checkpoint file, if any."""
    found = client.search_model_versions(f"name = '{model_name}' and tags.{CHECKPOINT_TAG} = '{checkpoint_sha256}'")
    return str(found[0].version) if found else None


def register(model_uri: str, model_name: str, checkpoint_sha256: str) -> str:
    """A new version of the logged model, tagged with its checkpoint's hash as it is created."""
    return str(mlflow.register_model(model_uri, model_name, tags={CHECKPOINT_TAG: checkpoint_sha256}).version)


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


def registry_accuracy(model_uri: str, images: torch.Tensor, labels: torch.Tensor, normalize: bool) -> float:
    """Test accuracy of the model as a user loads it back from the registry (pyfunc, numpy in and out)."""
    # The logged (torch.export) model's weights are pinned to the CPU; without this, MLflow's loader
    # picks CUDA whenever a GPU is present and refuses to load it.
    model = mlflow.pyfunc.load_model(model_uri, model_config={"device": "cpu"})
    logits = np.concatenate([model.predict(to_model_input(chunk, normalize).numpy()) for chunk in images.split(1000)])
    return float((logits.argmax(axis=1) == labels.numpy()).mean())
