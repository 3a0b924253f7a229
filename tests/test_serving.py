"""The champion as users get it: served over HTTP by `mlflow models serve`, and exported to ONNX."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from conftest import compose_config, mlflow_client, tiny_overrides, write_tiny_conf
from mnist_pipeline.data.prepared import load_prepared
from mnist_pipeline.download import download
from mnist_pipeline.evaluate import evaluate
from mnist_pipeline.export_onnx import export
from mnist_pipeline.inference.checkpoints import load_checkpoint
from mnist_pipeline.inference.logits import batched_logits
from mnist_pipeline.prepare import prepare
from mnist_pipeline.train import train

pytestmark = pytest.mark.slow  # a real training, a real server


@pytest.fixture(scope="module")
def champion(tmp_path_factory, tiny_mirror):
    """A tiny training, evaluated and registered as tiny-classifier@champion; its config and the
    test digits."""
    folder = tmp_path_factory.mktemp("serving")
    conf = write_tiny_conf(folder, *tiny_mirror)
    cfg = compose_config([*tiny_overrides(folder), "trainer.max_epochs=2"], config_dir=conf)
    download(cfg)
    prepare(cfg)
    train(cfg)
    metrics = evaluate(cfg, Path(cfg.paths.models) / "best.ckpt")
    assert metrics["champion"]
    images, labels = load_prepared(Path(cfg.paths.prepared), "test")
    return cfg, images, labels


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, payload) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def server(champion):
    """`mlflow models serve` on models:/tiny-classifier@champion, as the README runs it."""
    cfg = champion[0]
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": cfg.tracking.tracking_uri}
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    process = subprocess.Popen([str(mlflow_cli), "models", "serve", "-m", "models:/tiny-classifier@champion",
                                "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=5):
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("mlflow models serve did not answer /ping within 180 s")
        yield url
    finally:
        os.killpg(process.pid, 15)  # the server and its workers: a session of their own
        process.wait(timeout=30)


def checkpoint_labels(cfg, images) -> list[str]:
    model, _ = load_checkpoint(Path(cfg.paths.models) / "best.ckpt")
    return [cfg.data.classes[i] for i in batched_logits(model, images, normalize=True).argmax(dim=1).tolist()]


def test_the_served_champion_answers_raw_digits(champion, server):
    cfg, images, labels = champion
    digits = images[:50]
    status, body = post(f"{server}/invocations", {"inputs": digits.tolist()})  # 0-255 ints, as in MNIST
    assert status == 200, body
    predicted = [row["label"] for row in body["predictions"]]
    assert predicted == checkpoint_labels(cfg, digits)
    assert np.mean(np.array(predicted) == np.array([cfg.data.classes[i] for i in labels[:50].tolist()])) > 0.5
    probabilities = np.array([row["probabilities"] for row in body["predictions"]])
    assert probabilities.shape == (50, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-6)


@pytest.mark.parametrize(("payload", "says"), [
    ([[[0] * 5] * 5], "got an array of shape [1, 5, 5]"),
    ([[[300] * 28] * 28], "got values from 300 to 300"),
    ([[[0.5] * 28] * 28], "got 0.5, which is not a whole number; expected pixels [N, 28, 28]"),
    ([[[0] * 27 + [127.5]] * 28], "got 127.5, which is not a whole number"),  # MLflow would have cast it to 127
    ([[[1] * 28] * 28], "no pixel above 1 (blank, or scaled to [0, 1]); expected pixels [N, 28, 28]"),
    ([[["7"] * 28] * 28], "values; expected pixels"),
])
def test_the_server_refuses_what_cannot_be_an_mnist_image(server, payload, says):
    status, body = post(f"{server}/invocations", {"inputs": payload})
    assert status == 400
    assert says in body["message"]


def test_onnx_export_matches_pytorch_and_is_logged_to_the_versions_run(champion):
    cfg, images, _ = champion
    client = mlflow_client(cfg.tracking.tracking_uri)
    run_id = client.get_model_version("tiny-classifier", "1").run_id
    trained = client.get_run(run_id).info
    path, figures = export(cfg)
    assert path == Path(cfg.paths.models) / "tiny-classifier-v1.onnx"
    assert figures["onnx_argmax_mismatches"] == 0 and figures["onnx_max_abs_diff"] <= 1e-4
    assert figures["onnx_test_images"] == len(images)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    [probabilities] = session.run(None, {"pixels": images.numpy()})  # uint8 [N, 28, 28], as served
    assert [cfg.data.classes[i] for i in probabilities.argmax(axis=1).tolist()] == checkpoint_labels(cfg, images)

    assert [a.path for a in client.list_artifacts(run_id, "onnx")] == ["onnx/tiny-classifier-v1.onnx"]
    assert client.get_run(run_id).data.metrics["onnx_argmax_mismatches"] == 0
    # Adding to the finished training run leaves its status and duration as they were.
    assert (client.get_run(run_id).info.status, client.get_run(run_id).info.end_time) == ("FINISHED", trained.end_time)
