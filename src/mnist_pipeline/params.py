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
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .core.atomic import atomic_path
from .core.cli import run_stage
from .core.config import PARAMS_FILE, load_params
from .core.errors import ConfigError
from .core.project import project_root


def compose(output: Path, overrides: list[str], root: Path) -> None:
    """Write the composition of conf/ with overrides to output, only once it composes and passes
    the checks the stages apply: a bad override never leaves a params.yaml behind."""
    with atomic_path(output, keep_suffix=True) as tmp:  # DVC's writer picks the format by suffix
        try:
            compose_and_dump(tmp, str(root / "conf"), None, "config", str(root), overrides)
        except (HydraException, OmegaConfBaseException) as err:
            raise ConfigError(f"conf/ with overrides {overrides}: {str(err).splitlines()[0]}") from None
        load_params(tmp, source=output.name)


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
    run_stage(main)
