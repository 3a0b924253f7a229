"""The model zoo and the seeds initialisations."""

import pytest
import torch
from hydra.utils import instantiate

from conftest import compose_config
from mnist_pipeline.core.config import to_plain
from mnist_pipeline.models import MLP, DeepCNN, SmallCNN, TwoLayerNet
from mnist_pipeline.training.summary import count_parameters


@pytest.mark.parametrize(("name", "params"), [
    ("small_cnn", 55_338), ("deep_cnn", 3_274_634), ("mlp", 104_938), ("two_layer", 39_760),
    ("fast_cnn", 215_194),
])
def test_zoo_models_from_config(name, params):
    model = instantiate(to_plain(compose_config([f"model={name}"]).model), num_classes=10)
    assert count_parameters(model) == params
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_small_cnn_intermediate_shapes_match_seed():
    model = SmallCNN()
    x = torch.rand(2, 1, 28, 28)
    x = model.conv1(x)
    assert x.shape == (2, 16, 14, 14)
    assert model.conv2(x).shape == (2, 32, 7, 7)


def test_deep_cnn_tf_init():
    model = DeepCNN(init="tf_deep_mnist")
    for layer in (m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))):
        assert torch.all(layer.bias == 0.1)
        assert layer.weight.abs().max() <= 0.2
        assert layer.weight.std().item() == pytest.approx(0.088, abs=0.01)  # sd of N(0, 0.1) cut at 2 sd


def test_tf_layers_default_init_is_glorot_uniform_with_zero_biases():
    model = DeepCNN(init="tf_layers_default")
    for layer, fan_in, fan_out in [(model.features[0], 25, 32 * 25), (model.classifier[1], 3136, 1024)]:
        limit = (6 / (fan_in + fan_out)) ** 0.5  # tf.glorot_uniform_initializer
        assert torch.all(layer.bias == 0)
        assert layer.weight.abs().max() <= limit
        assert layer.weight.std().item() == pytest.approx(limit / 3 ** 0.5, rel=0.05)  # sd of U(-l, l)


def test_mlp_hidden_sizes_are_configurable():
    model = instantiate(to_plain(compose_config(["model=mlp", "model.hidden1=64", "model.hidden2=16"]).model))
    assert count_parameters(model) == 784 * 64 + 64 + 64 * 16 + 16 + 16 * 10 + 10


def test_mechanics101_init():
    model = MLP(init="tf_mechanics101")
    first = model.hidden1[1]
    assert torch.all(first.bias == 0)
    assert first.weight.abs().max() <= 2 / 28  # cut at 2 sd, sd = 1/sqrt(784)
    assert first.weight.std().item() == pytest.approx(0.88 / 28, rel=0.05)


def test_scratch_two_layer_init():
    torch.manual_seed(42)
    model = TwoLayerNet(init="scratch_two_layer")
    assert torch.all(model.affine2.bias == 0)
    assert model.affine1[1].weight.std().item() == pytest.approx(0.01, rel=0.05)


def test_unknown_init():
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        DeepCNN(init="xavier")
