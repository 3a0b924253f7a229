"""Inference outside the training loop."""

import torch

from mnist_pipeline.inference.logits import batched_logits as predict


def test_predict_uses_eval_mode_and_batches():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.9), torch.nn.Linear(784, 3))
    images = torch.randint(0, 255, (25, 28, 28), dtype=torch.uint8)
    first, second = predict(model, images, True, batch_size=7), predict(model, images, True, batch_size=25)
    assert first.shape == (25, 3) and torch.allclose(first, second, atol=1e-5)
