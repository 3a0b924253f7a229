"""The seeded train/validation split."""

import torch

from mnist_pipeline.data.prepared import split_train_val


def test_split_is_deterministic_disjoint_and_complete():
    images = torch.arange(100, dtype=torch.uint8).view(100, 1, 1).expand(100, 28, 28)
    labels = torch.arange(100)
    (train_a, val_a), (train_b, val_b) = (split_train_val(images, labels, 10, seed=7) for _ in range(2))
    assert torch.equal(val_a[1], val_b[1]) and torch.equal(train_a[1], train_b[1])
    assert len(val_a[1]) == 10 and len(train_a[1]) == 90
    assert sorted(torch.cat([train_a[1], val_a[1]]).tolist()) == list(range(100))
    _, val_c = split_train_val(images, labels, 10, seed=8)
    assert not torch.equal(val_a[1], val_c[1])
