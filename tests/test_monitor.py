"""`python -m mnist_pipeline.monitor`: requests served through the registered model, compared with the
training data. Digits like the training data raise no drift; inverted or rotated ones are flagged."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest

from conftest import mlflow_client
from mnist_pipeline.inference import request_log
from mnist_pipeline.monitor import monitor
from test_serving import champion  # noqa: F401  (a fixture: the tiny registered champion)

pytestmark = pytest.mark.slow  # a real training


def serve(cfg, images: np.ndarray, log: Path, monkeypatch) -> None:
    """The registered champion answers `images` as the server would, logging each to `log`."""
    monkeypatch.setenv(request_log.ENV, str(log))
    mlflow_client(cfg.tracking.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/tiny-classifier@champion")
    model.predict(images)
    monkeypatch.delenv(request_log.ENV)


@pytest.mark.parametrize(("change", "drifting"), [
    (lambda x: x, set()),
    (lambda x: 255 - x, {"ink_area", "mean_intensity"}),
    (lambda x: np.rot90(x, k=1, axes=(1, 2)), {"ink_height", "ink_width"}),
])
def test_requests_unlike_the_training_data_are_flagged_and_the_report_is_logged(
        champion, tmp_path, monkeypatch, change, drifting):  # noqa: F811
    cfg, images, _ = champion
    log = tmp_path / "requests.db"
    serve(cfg, np.ascontiguousarray(change(images.numpy())), log, monkeypatch)
    rows, run_id = monitor(cfg.tracking.tracking_uri, "tiny-classifier", "champion", log,
                           Path(cfg.paths.prepared), 0, float("inf"), tmp_path / "report")
    flagged = {row["feature"] for row in rows if row["verdict"] == "DRIFT"}
    assert drifting <= flagged and (flagged == set()) == (drifting == set()), rows
    client = mlflow_client(cfg.tracking.tracking_uri)
    assert {a.path for a in client.list_artifacts(run_id, "drift")} == {"drift/drift.png", "drift/drift.json"}
    assert client.get_run(run_id).data.metrics["drifting_features"] == len(flagged)
    assert (tmp_path / "report" / "drift.png").stat().st_size > 10_000
