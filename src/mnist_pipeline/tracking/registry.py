"""The Model Registry: one version per checkpoint file, the champion alias, moved only to a version
McNemar's test finds significantly better (the others get `challenger`), and the registered model's
predictions as a user loads it back."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature

from ..core.errors import PipelineError
from ..inference import request_log, served_model
from ..reports.significance import GateResult
from . import CHALLENGER, CHAMPION

CHECKPOINT_TAG = "checkpoint_sha256"  # the content hash of the checkpoint file a version was logged from
# What the logged model takes; versions logged before it took other input (raw float pixels, or
# uint8 under an input schema that truncated JSON floats) carry another tag, or none, and are never
# reused for a checkpoint evaluated again.
INPUT_TAG, INPUT = "input", "whole pixels 0-255 [N, 28, 28]"
LINEAGE_TAGS = ("git_commit", "recipe", "dataset", "dataset_sha256")  # copied from the run's tags
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
        # Outputs only: an input schema makes MLflow cast JSON to its dtype before the model's own
        # check (127.5 would become pixel 127); the input example still shows what goes in.
        signature = ModelSignature(inputs=None, outputs=infer_signature(example, output.predict(None, example)).outputs)
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


def champion_version(client: MlflowClient, model_name: str):
    """The version that holds the champion alias, or None."""
    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def champion_accuracy(client: MlflowClient, model_name: str) -> float | None:
    """Test accuracy recorded on the version that holds the champion alias, if any."""
    holder = champion_version(client, model_name)
    value = holder.tags.get("test_acc") if holder else None
    return float(value) if value is not None else None


def apply_gate(client: MlflowClient, model_name: str, version: str, test_acc: float, min_accuracy: float,
               gate: GateResult | None) -> tuple[bool, str]:
    """Move `champion` to this version when there is no champion (gate None) or McNemar's test finds
    it significantly better, and it passes the minimum; otherwise give it the `challenger` alias.
    The reason goes on the version (tags and description). Returns (is champion, reason)."""
    client.set_model_version_tag(model_name, version, "test_acc", repr(float(test_acc)))
    holder = champion_version(client, model_name)
    if holder is not None and str(holder.version) == str(version):
        return True, f"already the champion (test accuracy {test_acc:.4f})"
    if test_acc < min_accuracy:
        promote = False
        reason = f"test accuracy {test_acc:.4f} is below tracking.champion_min_accuracy {min_accuracy:g}"
    elif gate is None:
        promote, reason = True, f"no champion before; test accuracy {test_acc:.4f}"
    else:
        promote, reason = gate.significantly_better, gate.reason()
    if gate is not None:
        for key, value in gate.as_dict().items():
            client.set_model_version_tag(model_name, version, f"gate_{key}", str(value))
    client.set_model_version_tag(model_name, version, "gate_decision", CHAMPION if promote else CHALLENGER)
    client.set_model_version_tag(model_name, version, "gate_reason", reason)
    verdict = "now the champion" if promote else "not promoted (alias `challenger`)"
    client.update_model_version(model_name, version, description=f"**Champion gate:** {verdict}. {reason}.")
    if promote:
        client.set_registered_model_alias(model_name, CHAMPION, version)
        if str(version) in _alias_holders(client, model_name, CHALLENGER):
            client.delete_registered_model_alias(model_name, CHALLENGER)
    else:
        client.set_registered_model_alias(model_name, CHALLENGER, version)
    return promote, reason


def tag_lineage(client: MlflowClient, model_name: str, version: str, run) -> None:
    """Where a version came from, on the version itself: the code (git commit), the recipe, the data
    (name and digest over the archives' checksums) and the run that trained it."""
    tags = {key: run.data.tags[key] for key in LINEAGE_TAGS if key in run.data.tags}
    for key, value in {**tags, "run_id": run.info.run_id}.items():
        client.set_model_version_tag(model_name, version, key, value)


def _alias_holders(client: MlflowClient, model_name: str, alias: str) -> set[str]:
    try:
        return {str(client.get_model_version_by_alias(model_name, alias).version)}
    except MlflowException:
        return set()


def predicted_labels(model_uri: str, images: torch.Tensor) -> np.ndarray:
    """Class names predicted by the model as a user loads it back from the registry (uint8 pixels in)."""
    # suppress_warnings: skips comparing the model's pip requirements with this environment, which
    # maps every installed package to its modules (seconds); the requirements come from this environment.
    model = mlflow.pyfunc.load_model(model_uri, suppress_warnings=True)
    return np.concatenate([model.predict(chunk.numpy())["label"].to_numpy() for chunk in images.split(1000)])


def registry_correct(model_uri: str, images: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> np.ndarray:
    """Per test image, whether the registered model gets it right."""
    return predicted_labels(model_uri, images) == np.asarray(classes)[labels.numpy()]


def registry_accuracy(model_uri: str, images: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> float:
    """Test accuracy of the model as a user loads it back from the registry."""
    return float(registry_correct(model_uri, images, labels, classes).mean())


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
