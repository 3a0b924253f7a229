"""Batches sliced from in-memory tensors, and the model input they become."""

import torch

from mnist_pipeline.data.datamodule import batch_loader
from mnist_pipeline.data.inputs import to_model_input


def test_batch_loader_slices_whole_batches():
    images = torch.zeros(10, 28, 28, dtype=torch.uint8)
    labels = torch.arange(10)
    batches = list(batch_loader(images, labels, 4, shuffle=False))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][1].tolist() == [0, 1, 2, 3]


def test_to_model_input_scaling():
    images = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    assert to_model_input(images).shape == (2, 1, 28, 28)
    assert to_model_input(images).max() == 1.0
    assert to_model_input(images, normalize=False).max() == 255.0
