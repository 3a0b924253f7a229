"""Batches sliced from in-memory tensors, and the model input they become."""

import pytest
import torch

from mnist_pipeline.data.inputs import to_model_input
from mnist_pipeline.data.prepared import PreparedError
from mnist_pipeline.training.datamodule import MNISTDataModule, batch_loader


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


def test_data_module_checks_labels_against_its_classes(tmp_path):
    for split in ("train", "val", "test"):
        labels = torch.tensor([0, 1, 10]) if split == "val" else torch.tensor([0, 1, 2])
        torch.save({"images": torch.zeros(3, 28, 28, dtype=torch.uint8), "labels": labels}, tmp_path / f"{split}.pt")
    with pytest.raises(PreparedError, match=f"{tmp_path / 'val.pt'}: label 10 is out of range 0..9"):
        MNISTDataModule(tmp_path, batch_size=2, num_classes=10).setup("fit")
