"""Show what a trained model sees: logits, softmax probabilities, predicted and true label.

    python -m mnist_pipeline.predict --index 0 1 2            test-set images by position
    python -m mnist_pipeline.predict --image digit.png         image files (any size up to 4096x4096)
    python -m mnist_pipeline.predict --image photos/ --out predictions.csv     a folder, in one batch
    python -m mnist_pipeline.predict --checkpoint multirun/.../models/best.ckpt --index 7

The checkpoint (default models/best.ckpt) carries its own config: class names, input scaling and
where its prepared test set lies. Image files are read as a viewer shows them (transparency over
white, except that on a transparent canvas the opacity is the ink; 16-bit scaled to 8-bit), turned
gray and prepared the way MNIST's digits were: the digit's bounding box fitted into 20x20 keeping
its aspect ratio, then centred by its centre of mass in 28x28. MNIST digits are light on a dark
background: an image with a light background (dark ink on paper) is inverted, with a notice;
--invert / --no-invert force it either way.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from .core.atomic import write_text
from .core.cli import run_stage
from .core.errors import PipelineError


def predictions(checkpoint: Path, indices: list[int] | None = None, images: list[Path] | None = None,
                invert: bool | None = None) -> list[dict]:
    """One record per image: name, logits, probabilities, predicted class, (test images) true class
    and (image files) whether it was inverted. A folder among `images` stands for its image files."""
    from .inference.checkpoints import load_checkpoint  # imports torch: here, so that --help answers at once

    return predictions_of(*load_checkpoint(checkpoint), indices, images, invert)


def predictions_of(model, saved: dict, indices: list[int] | None = None, images: list[Path] | None = None,
                   invert: bool | None = None) -> list[dict]:
    """predictions() of a checkpoint already loaded: the network and the checkpoint's contents."""
    import torch

    from .data.images import image_files, read_images
    from .data.prepared import load_prepared
    from .inference.logits import batched_logits

    config = saved["config"]
    classes, normalize = config["data"]["classes"], config["data"]["normalize"]
    if images:
        files = image_files(images)
        pixels, inverted = read_images(files, invert)
        labels, names = [None] * len(files), [str(p) for p in files]
    else:
        test_images, test_labels = load_prepared(Path(config["paths"]["prepared"]), "test", len(classes))
        indices = indices or [0]
        outside = [i for i in indices if not 0 <= i < len(test_images)]
        if outside:
            raise PipelineError(f"index {outside[0]} is out of range: the test set holds {len(test_images)} "
                                f"images, indices 0..{len(test_images) - 1}")
        chosen = torch.tensor(indices)
        pixels, labels = test_images[chosen], [classes[i] for i in test_labels[chosen].tolist()]
        names, inverted = [f"test[{i}]" for i in chosen.tolist()], [None] * len(indices)
    logits = batched_logits(model, pixels, normalize)  # one batched pass over all the images
    probabilities = logits.softmax(dim=1)
    return [{"image": name, "logits": [round(v, 4) for v in row.tolist()],
             "probabilities": [round(v, 4) for v in prob.tolist()],
             "predicted": classes[int(prob.argmax())], "true": label, "inverted": flipped}
            for name, row, prob, label, flipped in zip(names, logits, probabilities, labels, inverted)]


def as_csv(records: list[dict], classes: list[str]) -> str:
    """One row per image: image, predicted, true, inverted, then one probability column per class."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["image", "predicted", "true", "inverted", *(f"p_{name}" for name in classes)])
    for r in records:
        writer.writerow([r["image"], r["predicted"], r["true"] or "", "" if r["inverted"] is None else r["inverted"],
                         *r["probabilities"]])
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description="Predict digits with a trained checkpoint.")
    parser.add_argument("--checkpoint", type=Path, default=Path("models/best.ckpt"))
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--index", type=int, nargs="+", help="positions in the prepared test set")
    source.add_argument("--image", type=Path, nargs="+", help="image files or folders of them")
    parser.add_argument("--invert", action=argparse.BooleanOptionalAction, default=None,
                        help="invert the images (dark ink on paper) or not (default: when the background is light)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON instead of text")
    output.add_argument("--out", type=Path, help="write the predictions to a .csv or .json file")
    args = parser.parse_args()
    if args.out and args.out.suffix.lower() not in (".csv", ".json"):
        raise PipelineError(f"--out {args.out}: the file name must end in .csv or .json")
    from .inference.checkpoints import load_checkpoint

    model, saved = load_checkpoint(args.checkpoint)  # read once: the network, its classes and scaling
    records = predictions_of(model, saved, args.index, args.image, args.invert)
    if args.invert is None:
        for record in records:
            if record["inverted"]:
                print(f"note: {record['image']} has a light background: inverted it, as MNIST digits are light "
                      "on dark (--no-invert keeps it as it is)", file=sys.stderr)
    if args.out:
        classes = saved["config"]["data"]["classes"]
        text = as_csv(records, classes) if args.out.suffix.lower() == ".csv" else json.dumps(records, indent=2) + "\n"
        write_text(args.out, text)
        print(f"wrote {len(records)} predictions to {args.out}")
        return
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
