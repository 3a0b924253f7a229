"""Stage 2: parse the IDX archives once, validate them, split train/validation, save compact tensors.

    python -m mnist_pipeline.prepare        (reads params.yaml)

Writes <paths.prepared>/{train,val,test}.pt, each {"images": uint8 [N, 28, 28], "labels": int64 [N]},
so training slices batches from one in-memory tensor instead of building a PIL image per sample.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .core.cli import run_stage
from .core.config import load_params
from .data.archives import verify

log = logging.getLogger(__name__)


def prepare(cfg) -> dict[str, int]:
    from .data.idx import IdxError, load_split  # torch: imported here, so that --help answers at once
    from .data.prepared import SPLITS, save_tensors, split_train_val

    raw, out = Path(cfg.paths.raw), Path(cfg.paths.prepared)
    files = {key: raw / spec.name for key, spec in cfg.data.files.items()}
    for key, path in files.items():  # never train on a file that changed since download
        if not path.exists():
            raise IdxError(f"{path} is missing: run the download stage first")
        verify(path, cfg.data.files[key].sha256)
    num_classes = len(cfg.data.classes)
    train = load_split(files["train_images"], files["train_labels"], cfg.data.sizes.train, num_classes)
    test = load_split(files["test_images"], files["test_labels"], cfg.data.sizes.test, num_classes)
    train, val = split_train_val(*train, val_size=cfg.data.val_size, seed=cfg.data.split_seed)
    counts = {}
    for split, (images, labels) in zip(SPLITS, (train, val, test)):
        save_tensors({"images": images, "labels": labels}, out / f"{split}.pt")
        counts[split] = len(labels)
    log.info("prepared %s: %s", cfg.data.name, counts)
    return counts


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    prepare(load_params())


if __name__ == "__main__":
    run_stage(main)
