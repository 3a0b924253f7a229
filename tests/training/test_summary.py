"""The model summary."""

from mnist_pipeline.models import SmallCNN
from mnist_pipeline.training.summary import model_summary


def test_model_summary_lists_layers_shapes_and_params():
    text = model_summary(SmallCNN())
    assert "Conv2d" in text and "[1, 32, 7, 7]" in text and "55,338" in text
