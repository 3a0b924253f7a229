"""Show what a trained model sees: logits, softmax probabilities, predicted and true label.

    python -m mnist_pipeline.predict --index 0 1 2            test-set images by position
    python -m mnist_pipeline.predict --image digit.png         image files (any size up to 4096x4096)
    python -m mnist_pipeline.predict --checkpoint multirun/.../models/best.ckpt --index 7

The checkpoint (default models/best.ckpt) carries its own config: class names, input scaling and
where its prepared test set lies. Image files are read as a viewer shows them (transparency over
white, 16-bit scaled to 8-bit), turned gray and resized to 28x28; MNIST digits are light on a dark
background, so pass --invert for dark ink on white paper.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .core.cli import run_stage
from .core.errors import PipelineError


def predictions(checkpoint: Path, indices: list[int] | None = None, images: list[Path] | None = None,
                invert: bool = False) -> list[dict]:
    """One record per image: name, logits, probabilities, predicted class and (test images) true class."""
    import torch  # torch and Lightning: imported here, so that --help answers at once

    from .data.images import read_images
    from .data.prepared import load_prepared
    from .training.checkpoints import load_checkpoint
    from .training.inference import batched_logits

    module, saved = load_checkpoint(checkpoint)
    config = saved["config"]
    classes, normalize = config["data"]["classes"], config["data"]["normalize"]
    if images:
        pixels, labels, names = read_images(images, invert), [None] * len(images), [str(p) for p in images]
    else:
        test_images, test_labels = load_prepared(Path(config["paths"]["prepared"]), "test", len(classes))
        indices = indices or [0]
        outside = [i for i in indices if not 0 <= i < len(test_images)]
        if outside:
            raise PipelineError(f"index {outside[0]} is out of range: the test set holds {len(test_images)} "
                                f"images, indices 0..{len(test_images) - 1}")
        chosen = torch.tensor(indices)
        pixels, labels = test_images[chosen], [classes[i] for i in test_labels[chosen].tolist()]
        names = [f"test[{i}]" for i in chosen.tolist()]
    logits = batched_logits(module.model, pixels, normalize)
    probabilities = logits.softmax(dim=1)
    return [{"image": name, "logits": [round(v, 4) for v in row.tolist()],
             "probabilities": [round(v, 4) for v in prob.tolist()],
             "predicted": classes[int(prob.argmax())], "true": label}
            for name, row, prob, label in zip(names, logits, probabilities, labels)]


def main() -> None:
    parser = argparse.ArgumentParser(description="Predict digits with a trained checkpoint.")
    parser.add_argument("--checkpoint", type=Path, default=Path("models/best.ckpt"))
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--index", type=int, nargs="+", help="positions in the prepared test set")
    source.add_argument("--image", type=Path, nargs="+", help="image files")
    parser.add_argument("--invert", action="store_true", help="dark digits on a light background")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args()
    records = predictions(args.checkpoint, args.index, args.image, args.invert)
    if args.json:
        print(json.dumps(records, indent=2))
        return
    for record in records:
        truth = f", true {record['true']}" if record["true"] is not None else ""
        print(f"{record['image']}: predicted {record['predicted']}{truth}")
        print(f"  logits        {record['logits']}")
        print(f"  probabilities {record['probabilities']}")


if __name__ == "__main__":
    run_stage(main)
