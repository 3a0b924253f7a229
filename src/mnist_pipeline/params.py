"""Write params.yaml, the resolved composition of conf/, which the DVC stages read.

    python -m mnist_pipeline.params [OVERRIDE ...]     e.g. data=fashion_mnist model=deep_cnn
    python -m mnist_pipeline.params --check            exit 1 if params.yaml differs from conf/

`dvc exp run` recomposes params.yaml itself (its Hydra integration), but `dvc repro` never does:
run this after editing conf/. It calls the same function DVC uses, so both write the same file.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

from dvc.utils.hydra import compose_and_dump
from omegaconf import OmegaConf

from .core.config import PARAMS_FILE
from .core.project import project_root


def compose(output: Path, overrides: list[str], root: Path) -> None:
    compose_and_dump(output, str(root / "conf"), None, "config", str(root), overrides)


def check(root: Path) -> list[str]:
    """Differences between params.yaml and a fresh composition of conf/ (empty when current)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / PARAMS_FILE
        compose(fresh, [], root)
        expected = OmegaConf.to_yaml(OmegaConf.load(fresh)).splitlines()
    current_file = root / PARAMS_FILE
    current = OmegaConf.to_yaml(OmegaConf.load(current_file)).splitlines() if current_file.exists() else []
    return list(difflib.unified_diff(current, expected, "params.yaml", "conf/", lineterm=""))


def main() -> None:
    parser = argparse.ArgumentParser(description="Compose conf/ into params.yaml.")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for `dvc exp run -S`")
    parser.add_argument("--check", action="store_true", help="only report whether params.yaml is current")
    args = parser.parse_args()
    root = project_root()
    if args.check:
        diff = check(root)
        if diff:
            sys.exit("params.yaml is out of date with conf/ (run `python -m mnist_pipeline.params`):\n"
                     + "\n".join(diff))
        print("params.yaml matches conf/")
        return
    compose(root / PARAMS_FILE, args.overrides, root)
    print(f"wrote {root / PARAMS_FILE}")


if __name__ == "__main__":
    main()
