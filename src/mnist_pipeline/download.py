"""Stage 1: fetch the dataset's four IDX archives from the first mirror that serves a verified copy.

    python -m mnist_pipeline.download        (reads params.yaml)
    MNIST_PIPELINE_MIRROR=/path/to/mnist python -m mnist_pipeline.download     a local mirror tried first
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .core.cli import run_stage
from .core.config import FILE_KEYS, load_params
from .data.archives import download_file, mirrors_to_try


def download(cfg) -> list[Path]:
    """All four archives of the configured dataset, into paths.raw."""
    dest, mirrors = Path(cfg.paths.raw), mirrors_to_try(cfg.data.mirrors)
    return [download_file(cfg.data.files[key].name, cfg.data.files[key].sha256, mirrors, dest)
            for key in FILE_KEYS]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    download(load_params())


if __name__ == "__main__":
    run_stage(main)
