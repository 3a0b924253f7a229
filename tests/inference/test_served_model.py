"""The registered model's input contract: uint8 MNIST pixels in, class names and probabilities out,
anything else refused with what is expected; signature and input example say the same."""

import mlflow
import numpy as np
import pytest
import torch
from mlflow.exceptions import MlflowException

from conftest import mlflow_client
from mnist_pipeline.data.inputs import to_model_input
from mnist_pipeline.inference import logits, request_log, served_model
from mnist_pipeline.inference.served_model import InputError, check_pixels
from mnist_pipeline.models.small_cnn import SmallCNN
from mnist_pipeline.tracking import registry

CLASSES = list("abcdefghij")  # class names, not indices, come back


@pytest.fixture(scope="module")
def logged(tmp_path_factory, digits):
    """An (untrained) network logged as the served model to a real SQLite store."""
    folder = tmp_path_factory.mktemp("served")
    mlflow_client(f"sqlite:///{folder}/mlflow.db")
    mlflow.set_experiment(experiment_name="served")
    images = digits[0]
    with mlflow.start_run():
        info = registry.log_model(SmallCNN(), CLASSES, normalize=True, example=torch.from_numpy(images[:4]))
    return info.model_uri, images


def test_takes_uint8_pixels_and_answers_class_names_and_probabilities(logged):
    uri, images = logged
    model = mlflow.pyfunc.load_model(uri)
    out = model.predict(images[:5])
    assert list(out.columns) == ["label", "probabilities"]
    assert set(out["label"]) <= set(CLASSES)
    probabilities = np.stack(out["probabilities"])
    assert probabilities.shape == (5, 10) and np.allclose(probabilities.sum(axis=1), 1)
    assert [CLASSES[i] for i in probabilities.argmax(axis=1)] == out["label"].tolist()


def test_signature_declares_the_outputs_and_the_example_shows_the_input(logged):
    uri, _ = logged
    info = mlflow.models.get_model_info(uri)
    # No input schema: MLflow would cast JSON to its dtype before the model's own check (127.5 -> 127).
    assert info.signature.inputs is None
    assert info.signature.outputs.input_names() == ["label", "probabilities"]
    example = mlflow.models.Model.load(uri).load_input_example()
    assert example.shape == (4, 28, 28) and example.min() >= 0 and 1 < example.max() <= 255
    assert np.array_equal(example, np.round(example))


@pytest.mark.parametrize(("bad", "says"), [
    (np.zeros((2, 5, 5), np.uint8), r"shape \[2, 5, 5\]"),
    (np.zeros((2, 28, 28), np.float32) + 0.5, "got 0.5, which is not a whole number"),
    (np.full((2, 28, 28), "7"), "got <U1 values"),
])
def test_the_loaded_model_refuses_what_is_not_pixels(logged, bad, says):
    uri, _ = logged
    with pytest.raises(MlflowException, match=says):
        mlflow.pyfunc.load_model(uri).predict(bad)


def test_whole_numbers_of_any_numeric_type_are_pixels(logged):
    uri, images = logged
    model = mlflow.pyfunc.load_model(uri)
    expected = model.predict(images[:3])
    for same in (images[:3].astype(np.int64), images[:3].astype(np.float64)):
        assert model.predict(same)["label"].tolist() == expected["label"].tolist()


@pytest.mark.parametrize(("bad", "says"), [
    (np.zeros((2, 5, 5), np.uint8), r"shape \[2, 5, 5\]"),
    (np.zeros((0, 28, 28), np.uint8), r"shape \[0, 28, 28\]"),
    (np.full((1, 28, 28), 0.5), "got 0.5, which is not a whole number"),
    (np.full((1, 28, 28), 200.5), "got 200.5, which is not a whole number"),
    (np.full((1, 28, 28), np.nan), "got nan, which is not a whole number"),
    (np.full((1, 28, 28), True), "got bool values"),
    (np.full((1, 28, 28), 300), "values from 300 to 300"),
    (np.full((1, 28, 28), -1), "values from -1 to -1"),
    (np.ones((1, 28, 28), np.uint8), r"image 0 has no pixel above 1 \(blank, or scaled to \[0, 1\]\)"),
])
def test_the_model_itself_refuses_what_cannot_be_an_mnist_image(bad, says):
    with pytest.raises(InputError, match=says) as err:
        check_pixels(bad)
    assert "expected pixels [N, 28, 28]: whole numbers 0-255" in str(err.value)


def test_a_channel_axis_is_taken_too():
    pixels = np.full((3, 1, 28, 28), 200, np.uint8)
    assert check_pixels(pixels).shape == (3, 28, 28)


@pytest.mark.parametrize("normalize", [True, False])
def test_the_served_models_copy_of_the_input_rule_equals_trainings(normalize):
    every_value = torch.arange(256, dtype=torch.uint8).repeat(4)[:28 * 28].reshape(1, 28, 28).repeat(3, 1, 1)
    expected = to_model_input(every_value, normalize)
    assert torch.equal(served_model.to_model_input(every_value, normalize), expected)
    assert served_model.CHUNK == logits.CHUNK


def test_the_loaded_model_logs_each_prediction_when_a_request_log_is_named(logged, monkeypatch, tmp_path):
    uri, images = logged
    log = tmp_path / "requests.db"
    monkeypatch.setenv(request_log.ENV, str(log))
    monkeypatch.setenv(served_model.MODEL_ENV, "served/1")
    out = mlflow.pyfunc.load_model(uri).predict(images[:6])  # loaded as MLflow loads it, code and all
    rows = request_log.read(log)
    assert rows["label"].tolist() == out["label"].tolist() and set(rows["model"]) == {"served/1"}
    assert np.allclose(rows["confidence"], np.stack(out["probabilities"]).max(axis=1))
    assert np.allclose(rows["ink_area"], request_log.input_stats(images[:6])["ink_area"])
    assert set(rows["source"]) == {"scoring"}


def test_without_a_request_log_nothing_is_written_and_the_run_names_the_model(logged, monkeypatch, tmp_path):
    uri, images = logged
    monkeypatch.delenv(request_log.ENV, raising=False)
    monkeypatch.delenv(served_model.MODEL_ENV, raising=False)
    model = mlflow.pyfunc.load_model(uri)
    model.predict(images[:2])
    assert model.unwrap_python_model().identity == f"run {mlflow.models.get_model_info(uri).run_id}"
    assert not list(tmp_path.iterdir())
