"""Stage 1: fetch the dataset's four IDX archives from the first mirror that serves a verified copy.

    python -m mnist_pipeline.download        (reads params.yaml)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .core.cli import run_stage
from .core.config import FILE_KEYS, load_params
from .data.archives import download_file


def download(cfg) -> list[Path]:
    """All four archives of the configured dataset, into paths.raw."""
    dest = Path(cfg.paths.raw)
    return [download_file(cfg.data.files[key].name, cfg.data.files[key].sha256, list(cfg.data.mirrors), dest)
            for key in FILE_KEYS]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    download(load_params())


if __name__ == "__main__":
    run_stage(main)
